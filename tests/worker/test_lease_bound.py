"""The documented bound on retrying a task whose worker died unwatched follows from the lease arithmetic.

No clock is raced here: the bound is lease plus sweep period (see teabox.platform.lease), so the
tests check that sum against the stated bound, that every process uses those figures, and that the
queue measures a lease from the last heartbeat. bench/ measures the real delay.
"""

from __future__ import annotations

import inspect
from pathlib import Path

from support.worker import LocalPlatform, spin_payload

from teabox.cli.serve import serve_command
from teabox.cli.worker import worker_command
from teabox.platform.lease import (
    DEFAULT_HEARTBEAT_SECONDS,
    DEFAULT_LEASE_SECONDS,
    LOST_WORKER_BOUND_SECONDS,
    REQUEUE_PERIOD_SECONDS,
)
from teabox.platform.models import Task
from teabox.worker import pool
from teabox.worker.settings import WorkerSettings


def test_lease_plus_sweep_period_stays_well_inside_the_documented_bound() -> None:
    worst = DEFAULT_LEASE_SECONDS + REQUEUE_PERIOD_SECONDS
    assert worst + 1.0 <= LOST_WORKER_BOUND_SECONDS  # at least a second of room for a slow sweep
    assert DEFAULT_LEASE_SECONDS / DEFAULT_HEARTBEAT_SECONDS >= 5  # a few late heartbeats do not lose a lease


def test_every_process_uses_those_figures(tmp_path: Path) -> None:
    settings = WorkerSettings(data_dir=tmp_path)
    assert (settings.lease_seconds, settings.heartbeat_seconds) == (DEFAULT_LEASE_SECONDS, DEFAULT_HEARTBEAT_SECONDS)
    assert pool._EXPIRY_CHECK == REQUEUE_PERIOD_SECONDS
    lease_option = next(p for p in worker_command.params if p.name == "lease")
    assert lease_option.default == DEFAULT_LEASE_SECONDS
    assert "period=REQUEUE_PERIOD_SECONDS" in inspect.getsource(serve_command.callback)  # type: ignore[arg-type]


def _row(local: LocalPlatform, task_id: str) -> Task:
    return local.row(task_id)


def test_a_lease_runs_from_the_last_heartbeat_and_only_an_expired_one_is_swept(local: LocalPlatform) -> None:
    queue = local.platform.storage.queue
    task_id = local.run(local.function(spin_payload()))
    staged = queue.claim("w", lease_seconds=3600.0)
    assert staged is not None and staged.task_id == task_id
    claimed = _row(local, task_id)
    assert claimed.lease_expires_at == claimed.updated_at + 3600.0
    assert queue.requeue_expired() == 0 and _row(local, task_id).status == "Running"

    assert queue.heartbeat(task_id, "w", staged.attempt)
    beaten = _row(local, task_id)
    assert beaten.lease_expires_at is not None and beaten.lease_expires_at > claimed.lease_expires_at

    # A worker that stopped beating: its lease ended (as at the lease's end after its death).
    assert queue.release_worker("w") == 1
    assert queue.requeue_expired() == 1
    assert (_row(local, task_id).status, _row(local, task_id).worker_id) == ("Staged", None)
