"""The task queue: staged tasks as rows, claimed by workers with a conditional UPDATE.

Nothing here lives in one process's memory, so any number of worker processes
(and, on PostgreSQL, machines) can share the queue:

* :meth:`TaskQueue.claim` first picks whose turn it is, fairly between users
  (see :func:`_users_in_turn`), then moves that user's oldest ``Staged`` task
  to ``Running`` with an ``UPDATE ... WHERE id = (their oldest staged) AND
  status = 'Staged'``; only one claimer's UPDATE can match, the others get
  nothing (on PostgreSQL the inner select also skips rows locked by a
  concurrent claim).
* A claim is a *lease*: the worker extends it with :meth:`TaskQueue.heartbeat`.
  :meth:`TaskQueue.requeue_expired` gives a task whose lease ran out to
  another worker, or fails it with ``worker_lost`` after ``max_attempts``.
* Every write names ``(task_id, worker_id, attempt)``, so a worker that lost
  its lease (or whose task was canceled) can no longer change the task.

Typical worker loop::

    queue = Storage.open(data_dir).queue
    while True:
        task = queue.claim(worker_id, lease_seconds=DEFAULT_LEASE_SECONDS)
        if task is None: sleep a little; continue
        ... run it, calling queue.heartbeat(task.task_id, worker_id, task.attempt)
        ... every DEFAULT_HEARTBEAT_SECONDS (teabox.platform.lease); stop at once if it returns False ...
        recorded = queue.finish(task.task_id, worker_id, task.attempt, outcome)
        if not recorded: withdraw the published outputs
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from typing import Any, NamedTuple

from sqlalchemy import Connection, Row, and_, bindparam, func, insert, select, update

from teabox.failure_kinds import TaskFailureKind
from teabox.platform.db import Database
from teabox.platform.file_keys import FileKeys
from teabox.platform.lease import DEFAULT_MAX_ATTEMPTS
from teabox.platform.models import DataFile, QueueTurn, Task, TaskData
from teabox.platform.notify import Notifier, PollingNotifier, Topic
from teabox.platform.staged import CryptoSpec, Outcome, StagedInput, StagedOutput, StagedTask, TaskLimits
from teabox.platform.states import TaskStatus

_RUNNING = TaskStatus.RUNNING.value
_STAGED = TaskStatus.STAGED.value
_CANCELED = TaskStatus.CANCELED.value
_FAILED = TaskStatus.FAILED.value

# The statements every task runs, built once with bound parameters: building a statement and
# computing its cache key would cost more than executing it. Parameter names differ from
# column names, which SQLAlchemy reserves for the SET clause.
_tasks, _bound, _files, _turns = Task.__table__, TaskData.__table__, DataFile.__table__, QueueTurn.__table__
_t = _tasks.c

_SOME_WAITING_USERS = select(_t.creator).where(_t.status == _STAGED).distinct().limit(2)
_WAITING = select(_t.creator, func.min(_t.staged_at)).where(_t.status == _STAGED).group_by(_t.creator)
_RUNNING_PER_USER = select(_t.creator, func.count()).where(_t.status == _RUNNING).group_by(_t.creator)
_LAST_SERVED = select(_turns.c.user_id, _turns.c.served_at).where(
    _turns.c.user_id.in_(bindparam("users", expanding=True))
)
_SERVED_AGAIN = update(_turns).where(_turns.c.user_id == bindparam("user")).values(served_at=bindparam("now"))
_SERVED_FIRST = insert(QueueTurn).values(user_id=bindparam("user"), served_at=bindparam("now"))
_OLDEST_STAGED = (
    select(_t.id)
    .where(_t.status == _STAGED, _t.creator == bindparam("user"))
    .order_by(_t.staged_at)
    .limit(1)
    .with_for_update(skip_locked=True)
).scalar_subquery()
_CLAIM = (
    update(_tasks)
    .where(_t.id == _OLDEST_STAGED, _t.status == _STAGED)
    .values(
        status=_RUNNING,
        worker_id=bindparam("claimer"),
        attempt=_t.attempt + 1,
        lease_seconds=bindparam("lease"),
        lease_expires_at=bindparam("expires"),
        updated_at=bindparam("now"),
    )
    # Everything the worker needs, read back by the claiming UPDATE itself.
    .returning(
        _t.id,
        _t.attempt,
        _t.function_id,
        _t.payload_sha256,
        _t.function_arguments,
        _t.limits,
        _t.inputs_ownership,
        _t.outputs_ownership,
    )
)
_BINDINGS = (
    select(
        _bound.c.direction,
        _bound.c.data_name,
        _files.c.id,
        _files.c.url,
        _files.c.schema,
        _files.c.sealed_key,
        _files.c.cmac,
    )
    .join(_files, _files.c.id == _bound.c.file_id)
    .where(_bound.c.task_id == bindparam("task"))
    .order_by(_bound.c.data_name)
)
_RUN = and_(_t.id == bindparam("task"), _t.worker_id == bindparam("holder"), _t.attempt == bindparam("run_attempt"))
_HELD = and_(_RUN, _t.status == _RUNNING)
_HEARTBEAT = update(_tasks).where(_HELD).values(lease_expires_at=bindparam("now") + _t.lease_seconds)
_FINISH = update(_tasks).where(_HELD)  # SET: the parameters given
_LET_GO = update(_tasks).where(_RUN).values(worker_id=None, lease_expires_at=None)
_BOUND_OUTPUTS = (
    select(_bound.c.data_name, _files.c.id, _files.c.cmac, _files.c.write_task)
    .join(_files, _files.c.id == _bound.c.file_id)
    .where(_bound.c.task_id == bindparam("task"), _bound.c.direction == "output")
)
_IS_HELD = select(_t.id).where(_HELD)
_BEGIN_WRITES = (
    update(_files)
    .where(
        _files.c.id.in_(
            select(_bound.c.file_id).where(_bound.c.task_id == bindparam("writer"), _bound.c.direction == "output")
        ),
        _files.c.write_task.is_(None),
    )
    .values(write_task=bindparam("writer"))
)
_RECORD_TAG = (
    update(_files).where(_files.c.id == bindparam("file")).values(cmac=bindparam("tag"), write_task=bindparam("task"))
)
_LAPSED = and_(_t.worker_id.is_not(None), _t.lease_expires_at < bindparam("now"))  # running or canceled
_ANY_LAPSED = select(_t.id).where(_LAPSED).limit(1)
_EXPIRED = and_(_t.status == _RUNNING, _t.lease_expires_at < bindparam("now"))
_RETRY = (
    update(_tasks)
    .where(_EXPIRED, _t.attempt < bindparam("max_attempts"))
    .values(status=_STAGED, worker_id=None, lease_expires_at=None, updated_at=bindparam("now"))
)
_GIVE_UP = (
    update(_tasks)
    .where(_EXPIRED, _t.attempt >= bindparam("max_attempts"))
    .values(
        status=_FAILED,
        failure_kind=TaskFailureKind.WORKER_LOST.value,
        reason=bindparam("why"),
        worker_id=None,
        lease_expires_at=None,
        updated_at=bindparam("now"),
        ended_at=bindparam("now"),
    )
)
_FORGET_CANCELED = update(_tasks).where(_t.status == _CANCELED, _LAPSED).values(worker_id=None, lease_expires_at=None)


class ActiveRun(NamedTuple):
    """A run a worker holds: the triple every queue write must name."""

    task_id: str
    worker_id: str
    attempt: int

    @property
    def params(self) -> dict[str, Any]:
        return {"task": self.task_id, "holder": self.worker_id, "run_attempt": self.attempt}


class TaskQueue:
    """Claim, heartbeat, finish and recover staged tasks; safe to use from many processes at once.

    Every method is a few Core statements on one connection: these run for
    every task, and an ORM session would double their cost.
    """

    def __init__(self, database: Database, file_keys: FileKeys, notifier: Notifier | None = None) -> None:
        self.database = database
        self.file_keys = file_keys
        self.notifier: Notifier = notifier or PollingNotifier()

    def claim(self, worker_id: str, lease_seconds: float, max_running_per_user: int | None = None) -> StagedTask | None:
        """Take the next staged task for ``worker_id``, or None if there is none it may take.

        The next task is the oldest staged task of the user whose turn it is
        (:func:`_users_in_turn`); a user who already has
        ``max_running_per_user`` tasks running is passed over. The task
        becomes ``Running`` with ``attempt`` increased by one and a lease of
        ``lease_seconds``; the returned :class:`StagedTask` carries everything
        the run needs (payload hash, merged arguments, each file's URL and its
        owner's crypto, the function's limits).
        """
        # Look first with a read, which takes no lock in WAL mode, so that a worker that finds
        # nothing never makes the service's writers wait.
        with self.database.reading() as connection:
            waiting = list(connection.scalars(_SOME_WAITING_USERS))
        if not waiting:
            return None
        # A lone user with no cap to respect needs no weighing, and their turns matter only against others.
        contended = len(waiting) > 1 or max_running_per_user is not None
        now = time.time()
        claiming = {"claimer": worker_id, "lease": lease_seconds, "expires": now + lease_seconds, "now": now}
        with self.database.writing() as connection:
            for user in _users_in_turn(connection, max_running_per_user) if contended else waiting:
                row = connection.execute(_CLAIM, claiming | {"user": user}).first()
                if row is not None:
                    break
            else:
                return None
            if contended and connection.execute(_SERVED_AGAIN, {"user": user, "now": now}).rowcount == 0:
                connection.execute(_SERVED_FIRST, {"user": user, "now": now})
            # Only declared data names can be bound, so a task that declares none has no bindings to read.
            declares_data = row.inputs_ownership or row.outputs_ownership
            bindings = list(connection.execute(_BINDINGS, {"task": row.id})) if declares_data else []
        return _staged_task(row, bindings, self.file_keys)

    def heartbeat(self, task_id: str, worker_id: str, attempt: int) -> bool:
        """Extend the lease. False means stop now: the task was canceled or the lease was lost."""
        with self.database.writing() as connection:
            result = connection.execute(
                _HEARTBEAT, ActiveRun(task_id, worker_id, attempt).params | {"now": time.time()}
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
        with self.database.writing() as connection:
            recorded, ended = _finish(connection, ActiveRun(task_id, worker_id, attempt), outcome, now)
        if ended:
            self.notifier.notify(Topic.RESULTS)
        return recorded

    def begin_writes(self, task_id: str, worker_id: str, attempt: int) -> str | None:
        """Claim every output of the run's task for this task's writes, before anything is encrypted.

        From here on each output's (key, IV) belongs to this task for good,
        whatever happens next (a sibling output failing, a cancel, a lost
        worker): no other task can be bound to it or write it, so the pair
        encrypts this task's output only. A retry of the same task may write it
        again; it computes the same plaintext. Returns None when the run may
        write, or why not (the run no longer holds the task, or an output was
        claimed by another task's write or already written); the worker must
        then publish nothing.
        """
        run = ActiveRun(task_id, worker_id, attempt)
        with self.database.writing() as connection:
            if connection.execute(_IS_HELD, run.params).first() is None:
                return f"the run no longer holds task {task_id} (canceled, or its lease passed to another worker)"
            connection.execute(_BEGIN_WRITES, {"writer": task_id})
            for data_name, file_id, cmac, write_task in connection.execute(_BOUND_OUTPUTS, {"task": task_id}):
                if write_task != task_id:
                    return f"output file {file_id} ('{data_name}') belongs to the write of task {write_task}"
                if cmac is not None:
                    return f"output file {file_id} ('{data_name}') has already been written"
        return None

    def requeue_expired(self, max_attempts: int = DEFAULT_MAX_ATTEMPTS) -> int:
        """Recover runs whose worker stopped heartbeating; returns how many tasks were changed.

        A run whose lease has expired goes back to ``Staged`` (ahead of newer
        tasks, since it keeps its place) unless it was already attempt
        ``max_attempts``, in which case the task fails with ``worker_lost``.
        A canceled run whose lease expired is forgotten. Call it every half second
        or so from any process (every ``REQUEUE_PERIOD_SECONDS`` keeps the documented bound,
        see :mod:`teabox.platform.lease`); concurrent calls are safe.
        """
        now = time.time()
        # Usually nothing has lapsed: find that out with a read rather than a write transaction.
        with self.database.reading() as connection:
            if connection.execute(_ANY_LAPSED, {"now": now}).first() is None:
                return 0
        why = f"the worker running the task stopped responding, {max_attempts} times"
        with self.database.writing() as connection:
            retried = connection.execute(_RETRY, {"now": now, "max_attempts": max_attempts}).rowcount
            lost = connection.execute(_GIVE_UP, {"now": now, "max_attempts": max_attempts, "why": why}).rowcount
            connection.execute(_FORGET_CANCELED, {"now": now})
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
        with self.database.writing() as connection:
            return connection.execute(
                update(Task)
                .where(Task.worker_id == worker_id, Task.lease_expires_at.is_not(None))
                .values(lease_expires_at=time.time() - 1.0)
            ).rowcount

    def canceled_running_tasks(self) -> list[ActiveRun]:
        """Runs still held by a worker although their task was canceled: the pool should stop them.

        A run leaves this list when its worker calls :meth:`finish` (which
        then returns False) or its lease expires.
        """
        with self.database.reading() as connection:
            rows = connection.execute(
                select(Task.id, Task.worker_id, Task.attempt).where(
                    Task.status == _CANCELED, Task.worker_id.is_not(None)
                )
            ).all()
        return [ActiveRun(row.id, row.worker_id, row.attempt) for row in rows]

    def counts(self) -> dict[str, int]:
        """How many tasks are in each status (for health and metrics)."""
        with self.database.reading() as connection:
            rows = connection.execute(select(Task.status, func.count()).group_by(Task.status)).all()
        return {status: count for status, count in rows}


def _users_in_turn(connection: Connection, max_running_per_user: int | None) -> list[str]:
    """Users with staged tasks, whose turn first: fewest tasks running, then served longest ago, then waiting longest.

    So one user's flood of tasks never makes another user's task wait behind
    it: with every worker busy on the flood, the next free worker goes to the
    user with nothing running; with one worker, users take turns. Users
    already at ``max_running_per_user`` running tasks are left out.
    """
    waiting: dict[str, float] = {creator: since for creator, since in connection.execute(_WAITING)}
    running: dict[str, int] = {creator: count for creator, count in connection.execute(_RUNNING_PER_USER)}
    served: dict[str, float] = {user: at for user, at in connection.execute(_LAST_SERVED, {"users": list(waiting)})}
    eligible = [user for user in waiting if max_running_per_user is None or running.get(user, 0) < max_running_per_user]
    return sorted(eligible, key=lambda user: (running.get(user, 0), served.get(user, -math.inf), waiting[user]))


def _failed(kind: TaskFailureKind, reason: str) -> dict[str, Any]:
    return {"status": _FAILED, "failure_kind": kind.value, "reason": reason, "return_value": None}


def _finish(connection: Connection, run: ActiveRun, outcome: Outcome, now: float) -> tuple[bool, bool]:
    """(whether the outcome was recorded as given, whether the task ended just now).

    The outputs are checked before the task's status is written, so that the one UPDATE writes the
    status the task ends in (a run whose outputs cannot be recorded ends ``Failed``, never
    ``Finished`` first): the state table holds for every statement, not only for the transaction.
    """
    ending: dict[str, Any] = {
        "worker_id": None,
        "lease_expires_at": None,
        "updated_at": now,
        "ended_at": now,
        "metrics": dict(outcome.metrics),
    }
    # Outputs are bound only to declared names, so for a task without any this reads nothing.
    bound = connection.execute(_BOUND_OUTPUTS, {"task": run.task_id}).all() if outcome.ok else []
    problem = _outputs_problem(run.task_id, bound, outcome.tags) if outcome.ok else None
    if outcome.ok and problem is None:
        ending |= {
            "status": TaskStatus.FINISHED.value,
            "return_value": outcome.return_value,
            "tags": {name: tag.hex() for name, tag in outcome.tags.items()},
            "failure_kind": None,
            "reason": None,
        }
    elif problem is not None:
        ending |= _failed(TaskFailureKind.OUTPUT_ERROR, problem)
    else:
        ending |= _failed(outcome.failure_kind or TaskFailureKind.HOST_ERROR, outcome.reason or "the run failed")
    if connection.execute(_FINISH, run.params | ending).rowcount != 1:
        # Not this run's task any more. If it was canceled, the run has stopped: nothing left to kill.
        connection.execute(_LET_GO, run.params)
        return False, False
    if problem is not None:
        return False, True
    for data_name, file_id, _, _ in bound:
        connection.execute(_RECORD_TAG, {"file": file_id, "tag": bytes(outcome.tags[data_name]), "task": run.task_id})
    return True, True


def _outputs_problem(task_id: str, bound: Sequence[Row[Any, Any, Any, Any]], tags: dict[str, bytes]) -> str | None:
    """Why the run's tags cannot become its outputs' cmacs, or None when each bound output can take its tag."""
    for data_name, file_id, cmac, write_task in bound:
        tag = tags.get(data_name)
        if tag is None or len(tag) != 16:
            return f"the run produced no 16-byte tag for output '{data_name}'"
        if cmac is not None or write_task not in (None, task_id):
            return f"output file {file_id} ('{data_name}') was written by another task first"
    return None


def _staged_task(row: Any, bindings: list[Any], file_keys: FileKeys) -> StagedTask:
    crypto = {b.id: CryptoSpec(b.schema, *file_keys.open(b.id, b.sealed_key)) for b in bindings}
    inputs = [StagedInput(b.data_name, b.id, b.url, crypto[b.id], b.cmac) for b in bindings if b.direction == "input"]
    outputs = [StagedOutput(b.data_name, b.id, b.url, crypto[b.id]) for b in bindings if b.direction == "output"]
    return StagedTask(
        task_id=row.id,
        attempt=row.attempt,
        function_id=row.function_id,
        payload_sha256=row.payload_sha256,
        arguments=dict(row.function_arguments),
        inputs=inputs,
        outputs=outputs,
        limits=TaskLimits(**row.limits),
    )
