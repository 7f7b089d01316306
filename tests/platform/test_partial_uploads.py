"""A server killed during an upload leaves no partial file behind once it is back."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
from support.platform_api import Api

from teabox.platform.blobs import LocalBlobStore
from teabox.testing.local_server import LocalServer

_CHUNK = b"\0" * (256 * 1024)
# Only keeps a broken build from hanging the suite.
_GIVE_UP = 120.0


def _parts(data_dir: Path) -> list[Path]:
    return sorted((data_dir / "blobs" / "tmp").glob("*.part"))


def test_a_part_being_written_is_kept_and_a_dead_writers_part_is_removed(tmp_path: Path) -> None:
    store = LocalBlobStore(tmp_path / "blobs")
    dead = tmp_path / "blobs" / "tmp" / "0123abcd.part"
    dead.write_bytes(b"what a killed process wrote")  # nobody holds its lock
    with store.writer() as live:
        live.write(b"half of an upload")
        assert store.sweep_partial() == [dead]
        assert _parts(tmp_path) != [], "the live part was kept"
        sha256 = live.commit()
    assert store.read(sha256) == b"half of an upload"
    assert _parts(tmp_path) == []


def test_a_server_killed_mid_upload_leaves_no_partial_file(
    open_api: Callable[[str], Api],
    start_platform_server: Callable[..., LocalServer],
) -> None:
    server = start_platform_server(workers=0)
    owner = open_api(server.url).login(server.admin_id, server.admin_password).new_user("DataOwner", "bank")
    sending = threading.Event()
    killed = threading.Event()

    def body() -> Iterator[bytes]:
        for _ in range(8):
            yield _CHUNK
        sending.set()
        killed.wait(_GIVE_UP)
        yield _CHUNK

    def upload() -> None:
        try:
            httpx.post(
                f"{server.url}/api/v1/upload_file",
                params={"name": "big.bin"},
                content=body(),
                headers=owner.headers(),
                timeout=_GIVE_UP,
            )
        except httpx.TransportError:
            pass  # the server died under it: that is the point

    uploader = threading.Thread(target=upload)
    uploader.start()
    try:
        assert sending.wait(_GIVE_UP)
        deadline = time.monotonic() + _GIVE_UP
        while not any(part.stat().st_size for part in _parts(server.data_dir)) and time.monotonic() < deadline:
            time.sleep(0.05)
        server.stop(kill=True)
        left = _parts(server.data_dir)
        assert left and os.path.getsize(left[0]) > 0, "the kill left a partial upload (or the test proves nothing)"
    finally:
        killed.set()
        uploader.join(_GIVE_UP)
    server.start()
    assert _parts(server.data_dir) == []
