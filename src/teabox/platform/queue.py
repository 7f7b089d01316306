"""The task queue: staged tasks as rows, claimed by workers with a conditional UPDATE.

Nothing here lives in one process's memory, so any number of worker processes
(and, on PostgreSQL, machines) can share the queue:

* :meth:`TaskQueue.claim` moves the oldest ``Staged`` task to ``Running`` with
  an ``UPDATE ... WHERE id = (oldest staged) AND status = 'Staged'``; only one
  claimer's UPDATE can match, the others get nothing (on PostgreSQL the inner
  select also skips rows locked by a concurrent claim).
* A claim is a *lease*: the worker extends it with :meth:`TaskQueue.heartbeat`.
  :meth:`TaskQueue.requeue_expired` gives a task whose lease ran out to
  another worker, or fails it with ``worker_lost`` after ``max_attempts``.
* Every write names ``(task_id, worker_id, attempt)``, so a worker that lost
  its lease (or whose task was canceled) can no longer change the task.

Typical worker loop::

    queue = TaskQueue(Database.for_data_dir(data_dir))
    while True:
        task = queue.claim(worker_id, lease_seconds=5)
        if task is None: sleep a little; continue
        ... run it, calling queue.heartbeat(task.task_id, worker_id, task.attempt)
        ... about every second; stop at once if it returns False ...
        recorded = queue.finish(task.task_id, worker_id, task.attempt, outcome)
        if not recorded: withdraw the published outputs
"""

from __future__ import annotations

import time
from typing import NamedTuple

from sqlalchemy import and_, func, select, update
from sqlalchemy.orm import Session

from teabox.platform.db import Database
from teabox.platform.models import DataFile, Task, TaskData
from teabox.platform.notify import Notifier, PollingNotifier, Topic
from teabox.platform.staged import CryptoSpec, Outcome, StagedInput, StagedOutput, StagedTask, TaskLimits
from teabox.platform.states import TaskStatus

DEFAULT_MAX_ATTEMPTS = 3

_RUNNING = TaskStatus.RUNNING.value
_STAGED = TaskStatus.STAGED.value


class ActiveRun(NamedTuple):
    """A run a worker holds: the triple every queue write must name."""

    task_id: str
    worker_id: str
    attempt: int


class TaskQueue:
    """Claim, heartbeat, finish and recover staged tasks; safe to use from many processes at once."""

    def __init__(self, database: Database, notifier: Notifier | None = None) -> None:
        self.database = database
        self.notifier: Notifier = notifier or PollingNotifier()

    def claim(self, worker_id: str, lease_seconds: float) -> StagedTask | None:
        """Take the oldest staged task for ``worker_id``, or None if there is none.

        The task becomes ``Running`` with ``attempt`` increased by one and a
        lease of ``lease_seconds``; the returned :class:`StagedTask` carries
        everything the run needs (payload hash, merged arguments, each file's
        URL and its owner's crypto, the function's limits).
        """
        # An idle worker polls often: look first with a read, which takes no lock in WAL mode,
        # so that polling never makes the service's writers wait.
        with self.database.read() as session:
            if session.execute(select(Task.id).where(Task.status == _STAGED).limit(1)).first() is None:
                return None
        now = time.time()
        oldest = (
            select(Task.id)
            .where(Task.status == _STAGED)
            .order_by(Task.staged_at)
            .limit(1)
            .with_for_update(skip_locked=True)
            .scalar_subquery()
        )
        with self.database.write() as session:
            row = session.execute(
                update(Task)
                .where(Task.id == oldest, Task.status == _STAGED)
                .values(
                    status=_RUNNING,
                    worker_id=worker_id,
                    attempt=Task.attempt + 1,
                    lease_seconds=lease_seconds,
                    lease_expires_at=now + lease_seconds,
                    updated_at=now,
                )
                .returning(Task.id)
            ).first()
            if row is None:
                return None
            return _staged_task(session, session.get_one(Task, row.id))

    def heartbeat(self, task_id: str, worker_id: str, attempt: int) -> bool:
        """Extend the lease. False means stop now: the task was canceled or the lease was lost."""
        now = time.time()
        with self.database.write() as session:
            result = session.execute(
                update(Task)
                .where(_held(task_id, worker_id, attempt))
                .values(lease_expires_at=now + Task.lease_seconds)
            )
            return result.rowcount == 1

    def finish(self, task_id: str, worker_id: str, attempt: int, outcome: Outcome) -> bool:
        """Record how the run ended, in one transaction.

        A successful outcome makes the task ``Finished``: the return value,
        metrics and each output's tag (which becomes that output file's
        registered cmac) are stored together. A failed one makes it ``Failed``
        with ``outcome.failure_kind`` and ``outcome.reason``.

        Returns True when the outcome was recorded as given. False means the
        platform did not take the outputs: the run no longer held the task
        (canceled, or the lease went to another worker), or an output was
        missing its tag or had been written by another task meanwhile (the
        task is then ``Failed`` with kind ``output_error``). On False the
        worker must withdraw anything it published.
        """
        now = time.time()
        with self.database.write() as session:
            recorded, ended = self._finish(session, task_id, worker_id, attempt, outcome, now)
        if ended:
            self.notifier.notify(Topic.RESULTS)
        return recorded

    @staticmethod
    def _finish(session: Session, task_id: str, worker_id: str, attempt: int, outcome: Outcome, now: float) -> tuple[bool, bool]:
        """(whether the outcome was recorded as given, whether the task ended just now)."""
        task = session.execute(
            select(Task).where(Task.id == task_id, Task.worker_id == worker_id, Task.attempt == attempt)
        ).scalar_one_or_none()
        if task is None:
            return False, False
        if task.status != _RUNNING:
            task.worker_id = None  # a canceled run has stopped: nothing left to kill
            task.lease_expires_at = None
            return False, False
        task.metrics = dict(outcome.metrics)
        task.worker_id = None
        task.lease_expires_at = None
        task.updated_at = task.ended_at = now
        if not outcome.ok:
            _fail(task, outcome.failure_kind or "host_error", outcome.reason or "the run failed")
            return True, True
        problem = _record_outputs(session, task, outcome.tags)
        if problem is not None:
            _fail(task, "output_error", problem)
            return False, True
        task.status = TaskStatus.FINISHED.value
        task.return_value = outcome.return_value
        task.tags = {name: tag.hex() for name, tag in outcome.tags.items()}
        return True, True

    def requeue_expired(self, max_attempts: int = DEFAULT_MAX_ATTEMPTS) -> int:
        """Recover runs whose worker stopped heartbeating; returns how many tasks were changed.

        A run whose lease has expired goes back to ``Staged`` (ahead of newer
        tasks, since it keeps its place) unless it was already attempt
        ``max_attempts``, in which case the task fails with ``worker_lost``.
        A canceled run whose lease expired is forgotten. Call it every second
        or so from any process; concurrent calls are safe.
        """
        now = time.time()
        expired = and_(Task.status == _RUNNING, Task.lease_expires_at < now)
        with self.database.write() as session:
            retried = session.execute(
                update(Task)
                .where(expired, Task.attempt < max_attempts)
                .values(status=_STAGED, worker_id=None, lease_expires_at=None, updated_at=now)
            ).rowcount
            lost = session.execute(
                update(Task)
                .where(expired, Task.attempt >= max_attempts)
                .values(
                    status=TaskStatus.FAILED.value,
                    failure_kind="worker_lost",
                    reason=f"the worker running the task stopped responding, {max_attempts} times",
                    worker_id=None,
                    lease_expires_at=None,
                    updated_at=now,
                    ended_at=now,
                )
            ).rowcount
            session.execute(
                update(Task)
                .where(Task.status == TaskStatus.CANCELED.value, Task.worker_id.is_not(None), Task.lease_expires_at < now)
                .values(worker_id=None, lease_expires_at=None)
            )
        if retried:
            self.notifier.notify(Topic.QUEUE)
        if lost:
            self.notifier.notify(Topic.RESULTS)
        return retried + lost

    def release_worker(self, worker_id: str) -> int:
        """End at once the leases held by a worker known to be dead; returns how many.

        The next :meth:`requeue_expired` then retries (or fails) its run
        without waiting for the lease to run out.
        """
        with self.database.write() as session:
            return session.execute(
                update(Task)
                .where(Task.worker_id == worker_id, Task.lease_expires_at.is_not(None))
                .values(lease_expires_at=time.time() - 1.0)
            ).rowcount

    def canceled_running_tasks(self) -> list[ActiveRun]:
        """Runs still held by a worker although their task was canceled: the pool should stop them.

        A run leaves this list when its worker calls :meth:`finish` (which
        then returns False) or its lease expires.
        """
        with self.database.read() as session:
            rows = session.execute(
                select(Task.id, Task.worker_id, Task.attempt).where(
                    Task.status == TaskStatus.CANCELED.value, Task.worker_id.is_not(None)
                )
            ).all()
        return [ActiveRun(row.id, row.worker_id, row.attempt) for row in rows]

    def counts(self) -> dict[str, int]:
        """How many tasks are in each status (for health and metrics)."""
        with self.database.read() as session:
            rows = session.execute(select(Task.status, func.count()).group_by(Task.status)).all()
        return {status: count for status, count in rows}


def _held(task_id: str, worker_id: str, attempt: int) -> object:
    return and_(Task.id == task_id, Task.worker_id == worker_id, Task.attempt == attempt, Task.status == _RUNNING)


def _fail(task: Task, kind: str, reason: str) -> None:
    task.status = TaskStatus.FAILED.value
    task.failure_kind = kind
    task.reason = reason
    task.return_value = None


def _record_outputs(session: Session, task: Task, tags: dict[str, bytes]) -> str | None:
    """Write each bound output's tag as its cmac; returns why not, leaving every record unchanged."""
    bound = session.execute(
        select(TaskData.data_name, DataFile).join(DataFile, DataFile.id == TaskData.file_id).where(
            TaskData.task_id == task.id, TaskData.direction == "output"
        )
    ).all()
    for data_name, record in bound:
        tag = tags.get(data_name)
        if tag is None or len(tag) != 16:
            return f"the run produced no 16-byte tag for output '{data_name}'"
        if record.cmac is not None:
            return f"output file {record.id} ('{data_name}') was written by another task first"
    for data_name, record in bound:
        record.cmac = bytes(tags[data_name])
    return None


def _staged_task(session: Session, task: Task) -> StagedTask:
    bindings = session.execute(
        select(TaskData.direction, TaskData.data_name, DataFile)
        .join(DataFile, DataFile.id == TaskData.file_id)
        .where(TaskData.task_id == task.id)
        .order_by(TaskData.data_name)
    ).all()
    inputs = [
        StagedInput(name, record.id, record.url, _crypto(record), record.cmac)
        for direction, name, record in bindings
        if direction == "input"
    ]
    outputs = [
        StagedOutput(name, record.id, record.url, _crypto(record))
        for direction, name, record in bindings
        if direction == "output"
    ]
    return StagedTask(
        task_id=task.id,
        attempt=task.attempt,
        function_id=task.function_id,
        payload_sha256=task.payload_sha256,
        arguments=dict(task.function_arguments),
        inputs=inputs,
        outputs=outputs,
        limits=TaskLimits(**task.limits),
    )


def _crypto(record: DataFile) -> CryptoSpec:
    return CryptoSpec(record.schema, bytes(record.key), bytes(record.iv))

