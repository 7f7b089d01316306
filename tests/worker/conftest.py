"""Fixtures shared by the worker tests: a real HTTP file server and transfer settings."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from support.http_server import Recorder, recording_server
from worker_support import LOCAL_SERVERS, LocalPlatform

from teabox.platform.core import Platform
from teabox.platform.settings import Settings
from teabox.platform.storage import Storage
from teabox.worker.fetch import TransferPolicy, Transfers


@pytest.fixture
def file_server() -> Iterator[Recorder]:
    with recording_server() as server:
        yield server


@pytest.fixture
def allowed_dir(tmp_path: Path) -> Path:
    directory = tmp_path / "allowed"
    directory.mkdir()
    return directory


@pytest.fixture
def transfers(allowed_dir: Path) -> Iterator[Transfers]:
    t = Transfers(
        TransferPolicy(
            allowed_dirs=(allowed_dir,),
            max_input_bytes=10_000,
            max_output_bytes=10_000,
            timeout_seconds=1.0,
            egress=LOCAL_SERVERS,
        )
    )
    yield t
    t.close()


@pytest.fixture
def local(tmp_path: Path) -> Iterator[LocalPlatform]:
    files = tmp_path / "files"
    files.mkdir()
    storage = Storage.open(tmp_path / "data")
    platform = Platform(storage, Settings(allowed_file_dirs=(files,)))
    platform.create_admin("admin", "admin-password")
    admin = platform.authenticate(
        platform.call("user_login", None, {"user_id": "admin", "password": "admin-password"})["token"]
    )
    yield LocalPlatform(platform, admin, files)
    storage.close()
