"""Leases run on the database's clock: a machine whose clock is wrong can neither end a live run nor keep a dead one.

A worker (or a sweeping process) whose clock is an hour off is played by
shifting ``time.time`` in this process while it calls the queue; the
database's clock is left alone.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from sqlalchemy import select
from support.backends import BACKENDS, database_url, platform_admin

from teabox.platform.core import Platform
from teabox.platform.models import Task
from teabox.platform.storage import Storage

HOUR = 3600.0
HANG_SECONDS = 60.0  # only to keep a broken test from hanging


@pytest.fixture(params=BACKENDS)
def storages(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[Storage, Storage]]:
    """The API server's storage (it also sweeps leases) and a worker's, on one database."""
    cluster = request.getfixturevalue("postgres_cluster") if request.param == "postgres" else None
    url = database_url(request.param, cluster)
    server, worker = (
        Storage.open(tmp_path / "data", database_url=url),
        Storage.open(tmp_path / "data", database_url=url),
    )
    try:
        yield server, worker
    finally:
        worker.close()
        server.close()


@pytest.fixture
def task_id(storages: tuple[Storage, Storage]) -> str:
    """A staged task."""
    admin = platform_admin(Platform(storages[0]))
    owner, user = admin.new_user("FunctionOwner"), admin.new_user("DataOwner-org")
    staged = user.task(owner.function())
    user.call("invoke_task", task_id=staged)
    return staged


@contextmanager
def clock_off_by(monkeypatch: pytest.MonkeyPatch, seconds: float) -> Iterator[None]:
    """This process's clock, as the platform reads it, ``seconds`` away from the truth."""
    true_time = time.time
    with monkeypatch.context() as patched:
        patched.setattr(time, "time", lambda: true_time() + seconds)
        yield


def lease_state(storage: Storage, task_id: str) -> tuple[str, str | None]:
    with storage.database.reading() as connection:
        row = connection.execute(select(Task.status, Task.worker_id).where(Task.id == task_id)).one()
    return row.status, row.worker_id


def test_a_worker_whose_clock_is_behind_keeps_its_run(
    storages: tuple[Storage, Storage], task_id: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    server, worker = storages
    with clock_off_by(monkeypatch, -HOUR):
        run = worker.queue.claim("slow-clock", lease_seconds=30)
        assert run is not None and run.task_id == task_id
        assert worker.queue.heartbeat(task_id, "slow-clock", run.attempt)
    assert server.queue.requeue_expired() == 0
    assert lease_state(server, task_id) == ("Running", "slow-clock")


def test_a_sweeper_whose_clock_is_ahead_leaves_live_runs_alone(
    storages: tuple[Storage, Storage], task_id: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    server, worker = storages
    run = worker.queue.claim("w1", lease_seconds=30)
    assert run is not None
    with clock_off_by(monkeypatch, HOUR):
        assert server.queue.requeue_expired() == 0
        assert server.queue.canceled_running_tasks() == []
    assert lease_state(server, task_id) == ("Running", "w1")


def test_a_worker_whose_clock_is_ahead_still_loses_a_lapsed_lease(
    storages: tuple[Storage, Storage], task_id: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The lease ends a lease's length after the claim by the database's clock, not an hour later."""
    server, worker = storages
    with clock_off_by(monkeypatch, HOUR):
        run = worker.queue.claim("fast-clock", lease_seconds=0.2)
    assert run is not None
    deadline = time.monotonic() + HANG_SECONDS
    while server.queue.requeue_expired() == 0:
        assert time.monotonic() < deadline, "the lease never lapsed"
        time.sleep(0.05)
    assert lease_state(server, task_id) == ("Staged", None)
    with clock_off_by(monkeypatch, HOUR):
        assert not worker.queue.heartbeat(task_id, "fast-clock", run.attempt), "a lapsed lease cannot be renewed"


def test_release_worker_ends_a_lease_now_by_the_database_clock(
    storages: tuple[Storage, Storage], task_id: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A supervisor whose clock is behind still ends a dead worker's lease at once."""
    server, worker = storages
    assert worker.queue.claim("dead", lease_seconds=30) is not None
    with clock_off_by(monkeypatch, -HOUR):
        assert server.queue.release_worker("dead") == 1
    assert server.queue.requeue_expired() == 1
    assert lease_state(server, task_id) == ("Staged", None)
