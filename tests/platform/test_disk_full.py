"""A full data directory: writes answer 507 ``storage_full``, health says so, the log says it once,
and everything carries on by itself once space returns. A read-only one stops the start with one line.

The data directory lives on a small tmpfs of its own (8 MiB), so "full" is the kernel's real
ENOSPC and SQLite's real SQLITE_FULL. Mounting needs root (CI runs the suite as root); where
mounting is not permitted the tests skip.
"""

from __future__ import annotations

import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
from support.platform_api import PASSWORD, Api, unique

from teabox.testing.local_server import LocalServer, teabox_command

_GIVE_UP = 120.0  # only keeps a broken build from hanging the suite
_FULL_LOG = "is full: writes are refused"


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    mount_point = tmp_path / "disk"
    mount_point.mkdir(mode=0o700)
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=8m,mode=0700", "tmpfs", str(mount_point)], capture_output=True
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.decode(errors='replace').strip()}")
    try:
        yield mount_point
    finally:
        subprocess.run(["umount", "-l", str(mount_point)], check=True)


def _fill(disk: Path) -> Path:
    filler = disk / "filler"
    with open(filler, "wb") as file:
        try:
            while True:
                file.write(b"\0" * 65536)
                file.flush()
        except OSError:
            pass
    return filler


def _health(server: LocalServer) -> dict[str, object]:
    answer: dict[str, object] = httpx.get(f"{server.url}/api/v1/health").json()
    return answer


def test_a_full_data_directory_answers_507_and_recovers_by_itself(
    open_api: Callable[[str], Api], small_disk: Path
) -> None:
    server = LocalServer(small_disk / "data", workers=0)
    server.start()
    try:
        admin = open_api(server.url).login(server.admin_id, server.admin_password)
        owner = admin.new_user("DataOwner", "bank")
        filler = _fill(small_disk)

        upload = httpx.post(
            f"{server.url}/api/v1/upload_file",
            params={"name": "big.bin"},
            content=b"y" * 300_000,
            headers=owner.headers(),
            timeout=_GIVE_UP,
        )
        assert upload.status_code == 507, upload.text
        assert upload.json()["error"]["code"] == "storage_full"
        assert "the data directory is full" in upload.json()["error"]["message"]
        assert list((server.data_dir / "blobs" / "tmp").iterdir()) == [], "a refused upload keeps nothing"
        assert _health(server)["status"] == "storage_full"
        assert httpx.get(f"{server.url}/api/v1/ready").status_code == 503

        # A database write: SQLite's write-ahead log has to grow, and cannot.
        for _ in range(50):
            refused = admin.raw(
                "user_register", {"user_id": unique("full"), "password": PASSWORD, "role": "FunctionOwner"}
            )
            if refused.status_code != 200:
                break
        assert refused.status_code == 507, refused.text
        assert refused.json()["error"]["code"] == "storage_full"

        filler.unlink()
        deadline = time.monotonic() + _GIVE_UP
        while _health(server)["status"] != "ok" and time.monotonic() < deadline:
            time.sleep(0.1)
        assert _health(server)["status"] == "ok"
        assert httpx.get(f"{server.url}/api/v1/ready").status_code == 200
        again = httpx.post(
            f"{server.url}/api/v1/upload_file",
            params={"name": "big.bin"},
            content=b"y" * 300_000,
            headers=owner.headers(),
            timeout=_GIVE_UP,
        )
        assert again.status_code == 200, again.text
        admin.call("user_register", user_id=unique("room"), password=PASSWORD, role="FunctionOwner")
    finally:
        server.stop()
    log = server.log_path.read_text()
    assert log.count(_FULL_LOG) == 1, "the full disk is logged once, not once per refused write"
    assert "Traceback" not in log


def test_a_read_only_data_directory_stops_the_start_with_one_line(small_disk: Path) -> None:
    data_dir = small_disk / "data"
    created = subprocess.run(teabox_command("admin", "migrate", "--data-dir", str(data_dir)), capture_output=True)
    assert created.returncode == 0, created.stderr
    subprocess.run(["mount", "-o", "remount,ro", str(small_disk)], check=True)
    started = subprocess.run(
        teabox_command("serve", "--data-dir", str(data_dir), "--workers", "0", "--port", "0"),
        capture_output=True,
        text=True,
        timeout=_GIVE_UP,
    )
    assert started.returncode != 0
    lines = started.stderr.strip().splitlines()
    assert len(lines) == 1, started.stderr
    assert str(data_dir) in lines[0] and "read-only" in lines[0] and "remount" in lines[0]
