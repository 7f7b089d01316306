"""A worker never outlives its supervisor, however and whenever the supervisor dies."""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Callable
from pathlib import Path

from teabox.testing.local_server import LocalServer

# Only keeps a broken build from hanging the suite; a correct one is done in about a second.
_GIVE_UP = 120.0


def _group_members(group: int) -> list[int]:
    """Live (not zombie) processes whose process group is ``group``."""
    members = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        state, _parent, pgrp = stat.rsplit(")", 1)[1].split()[:3]
        if int(pgrp) == group and state != "Z":
            members.append(int(entry.name))
    return members


def _kill_supervisor_and_wait(server: LocalServer) -> list[int]:
    """SIGKILL ``teabox serve`` alone (not its group); return the group's processes still alive after a while."""
    assert server.process is not None
    group = server.process.pid
    os.kill(group, signal.SIGKILL)
    server.process.wait()
    deadline = time.monotonic() + _GIVE_UP
    while (left := _group_members(group)) and time.monotonic() < deadline:
        time.sleep(0.1)
    return left


def test_workers_still_starting_exit_when_the_server_is_killed(
    start_platform_server: Callable[..., LocalServer],
) -> None:
    server = start_platform_server(workers=2)  # returns as soon as /health first answers
    try:
        assert _kill_supervisor_and_wait(server) == []
    finally:
        server.stop(kill=True)


def test_running_workers_exit_when_the_server_is_killed(
    start_platform_server: Callable[..., LocalServer], tmp_path: Path
) -> None:
    server = start_platform_server(workers=2)
    try:
        deadline = time.monotonic() + _GIVE_UP
        assert server.process is not None
        while len(_group_members(server.process.pid)) < 3 and time.monotonic() < deadline:
            time.sleep(0.1)  # the server and both workers (and the spawn resource tracker) are up
        assert len(_group_members(server.process.pid)) >= 3
        time.sleep(1.0)  # let both workers get past start-up into their loops
        assert _kill_supervisor_and_wait(server) == []
    finally:
        server.stop(kill=True)
