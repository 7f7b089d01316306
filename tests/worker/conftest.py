"""Fixtures shared by the worker tests: a real HTTP file server and transfer settings."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from support.http_server import Recorder, recording_server
from support.s3 import s3_location
from support.worker import LOCAL_SERVERS, LocalPlatform, MakeContext, worker_context

from teabox.platform.core import Platform
from teabox.platform.settings import Settings
from teabox.platform.storage import Storage
from teabox.worker.fetch import TransferPolicy, Transfers
from teabox.worker.run_task import WorkerContext


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
def make_context(tmp_path: Path) -> Iterator[MakeContext]:
    """``make_context(transfers, payloads)``: a worker's context over ``tmp_path / "data"``, as a worker process
    keeps it between tasks; its staging directory (with the lock that claims it) and its executor are closed
    after the test."""
    made: list[WorkerContext] = []

    def make(transfers: Transfers, payloads: dict[str, bytes]) -> WorkerContext:
        made.append(worker_context(tmp_path, transfers, payloads))
        return made[-1]

    yield make
    for context in made:
        context.staging.close()
        context.executor.close()


@pytest.fixture
def local(
    request: pytest.FixtureRequest, tmp_path: Path, new_database: Callable[[], str | None]
) -> Iterator[LocalPlatform]:
    """A platform in this process; parametrized indirectly with "s3", its blobs are in the test S3 server."""
    files = tmp_path / "files"
    files.mkdir()
    blobs = None
    if getattr(request, "param", "local") == "s3":
        server = request.getfixturevalue("s3_server")
        monkeypatch = request.getfixturevalue("monkeypatch")
        for name, value in server.environment().items():
            monkeypatch.setenv(name, value)
        blobs = s3_location(server)
    storage = Storage.open(tmp_path / "data", database_url=new_database(), blobs=blobs)
    platform = Platform(storage, Settings(allowed_file_dirs=(files,)))
    platform.create_admin("admin", "admin-password")
    admin = platform.authenticate(
        platform.call("user_login", None, {"user_id": "admin", "password": "admin-password"})["token"]
    )
    yield LocalPlatform(platform, admin, files)
    storage.close()
