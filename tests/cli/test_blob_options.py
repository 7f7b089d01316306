"""``--blobs`` / ``TEABOX_BLOBS_URL`` and ``--s3-endpoint`` on the operator commands, run as processes."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
from support.s3 import S3Server, s3_location

from teabox.platform.disk_space import DiskSpace
from teabox.testing.local_server import free_port, teabox_command

_GIVE_UP = 180  # only keeps a broken start from hanging the suite


def _teabox(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        teabox_command(*args), capture_output=True, text=True, env={**os.environ, **(env or {})}, timeout=_GIVE_UP
    )


def test_a_blobs_url_of_no_store_stops_the_worker_with_one_line(tmp_path: Path) -> None:
    done = _teabox("worker", "--data-dir", str(tmp_path / "data"), "--blobs", "ftp://host/blobs")
    assert done.returncode == 1
    assert "Error: --blobs 'ftp://host/blobs': a blob store is a folder" in done.stderr
    assert "Traceback" not in done.stderr


def test_an_unreachable_store_stops_serve_before_it_serves(tmp_path: Path) -> None:
    closed = f"http://127.0.0.1:{free_port()}"
    done = _teabox(
        "serve", "--data-dir", str(tmp_path / "data"), "--port", str(free_port()), "--workers", "0",
        "--blobs", "s3://teabox/p", "--s3-endpoint", closed,
        env={"AWS_ACCESS_KEY_ID": "id", "AWS_SECRET_ACCESS_KEY": "secret", "AWS_DEFAULT_REGION": "us-east-1"},
    )  # fmt: skip
    assert done.returncode == 1
    assert "Error: the blob store s3://teabox/p/ failed list_multipart_uploads" in done.stderr
    assert closed in done.stderr and "Traceback" not in done.stderr
    assert "teabox serving" not in done.stderr


def test_gc_removes_unreferenced_blobs_from_the_store_named_by_the_environment(
    s3_server: S3Server, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in s3_server.environment().items():
        monkeypatch.setenv(name, value)  # the AWS variables name the endpoint and give the key pair
    location = s3_location(s3_server)
    store = location.open(tmp_path, DiskSpace(tmp_path))
    sha256, _ = store.put(b"nothing refers to me")
    env = {"TEABOX_BLOBS_URL": location.url or ""}
    done = _teabox("admin", "gc", "--data-dir", str(tmp_path / "data"), "--blobs-older-than", "0", env=env)
    assert done.returncode == 0, done.stderr
    assert "removed 1 blobs nothing refers to" in done.stdout
    assert not store.exists(sha256)
