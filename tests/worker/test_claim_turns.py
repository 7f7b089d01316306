"""How workers beside the data directory look at the queue (:class:`teabox.worker.direct.DirectPlatform`).

On SQLite they claim one after another (:class:`teabox.worker.direct.ClaimTurns`): a staged task
wakes every idle worker at once, and taking turns, the ones that come second find the queue empty
with the claim's opening read instead of a write each. Whether a claim holds the turn is seen
through the lock file, from a descriptor of this test's own. A worker whose claim took the only
staged task waits for a wake-up before it asks the database again.
"""

from __future__ import annotations

import fcntl
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from support.backends import platform_admin
from support.round_trips import RoundTrips

from teabox.platform.core import Platform
from teabox.platform.staged import StagedTask
from teabox.platform.storage import WAKE_DIR, Storage
from teabox.worker.direct import DirectPlatform


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    Storage.open(tmp_path / "data").close()  # created and migrated, as `teabox serve` leaves it
    return tmp_path / "data"


@pytest.fixture
def worker(data_dir: Path) -> Iterator[DirectPlatform]:
    platform = DirectPlatform(Storage.open(data_dir, migrate=False))
    yield platform
    platform.close()


def turn_is_free(data_dir: Path) -> bool:
    """Whether another worker could start its claim now (takes the turn and gives it back at once)."""
    descriptor = os.open(data_dir / WAKE_DIR / "claim.lock", os.O_RDWR)
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    finally:
        os.close(descriptor)  # closing also gives back a lock it took
    return True


def test_no_other_worker_starts_a_claim_while_one_claims(
    worker: DirectPlatform, data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: list[bool] = []

    def claim(
        worker_id: str, lease_seconds: float, max_running_per_user: int | None = None
    ) -> tuple[StagedTask | None, bool]:
        seen.append(turn_is_free(data_dir))
        return None, False

    monkeypatch.setattr(worker.storage.queue, "claim_telling_more", claim)
    assert worker.claim("w1", 30.0, None) is None
    assert seen == [False], "the turn was free during the claim"
    assert turn_is_free(data_dir), "the turn was kept after the claim"


def test_the_turn_is_the_data_directorys_own(worker: DirectPlatform, data_dir: Path) -> None:
    mode = (data_dir / WAKE_DIR / "claim.lock").stat().st_mode & 0o777
    assert mode & 0o077 == 0, oct(mode)


def test_a_worker_that_dies_holding_the_turn_leaves_it_free(data_dir: Path) -> None:
    """flock's lock belongs to the open file: it goes with the process that held it, however it ends."""
    dies_holding = (
        "import os, sys; from pathlib import Path; from teabox.worker.direct import ClaimTurns; "
        "ClaimTurns(Path(sys.argv[1])).__enter__(); os.kill(os.getpid(), 9)"
    )
    died = subprocess.run([sys.executable, "-c", dies_holding, str(data_dir / WAKE_DIR / "claim.lock")], check=False)
    assert died.returncode == -9
    assert turn_is_free(data_dir)


def test_a_worker_that_took_the_only_staged_task_waits_for_a_wake_up_before_asking_again(
    worker: DirectPlatform, data_dir: Path
) -> None:
    platform = Platform(Storage.open(data_dir, migrate=False))
    trips = RoundTrips(worker.storage.database)

    def claimed() -> str | None:
        task = worker.claim("w1", 30.0, None)
        return None if task is None else task.task_id

    try:
        admin = platform_admin(platform)
        owner, user = admin.new_user("FunctionOwner"), admin.new_user("DataOwner-org")
        function_id = owner.function()
        first, second, third = (user.task(function_id) for _ in range(3))
        user.call("invoke_task", task_id=first)
        assert claimed() == first
        with trips.counting():
            assert claimed() is None  # nothing staged, no wake-up: the database is not asked
        assert trips.count == 0, f"the worker asked the database ({trips.count} round trips)"
        assert claimed() is None  # the regular look at the database
        user.call("invoke_task", task_id=second)
        assert claimed() == second
        user.call("invoke_task", task_id=third)  # wakes the worker that took the only staged task
        with trips.counting():
            assert claimed() is None  # woken: the loop asks again, and then the database
        assert trips.count == 0
        assert claimed() == third
    finally:
        platform.storage.close()
