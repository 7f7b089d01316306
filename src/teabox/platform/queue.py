"""The task queue: staged tasks as rows, claimed by workers with a conditional UPDATE.

Nothing here lives in one process's memory, so any number of worker processes
(and, on PostgreSQL, machines) can share the queue:

* :meth:`TaskQueue.claim` is one ``UPDATE ... WHERE id = (the next staged task)
  AND status = 'Staged' RETURNING ...``: the inner select picks whose turn it
  is, fairly between users (fewest tasks running, then served longest ago,
  then waiting longest), and takes that user's oldest task; only one
  claimer's UPDATE can match it (on PostgreSQL the inner select skips rows a
  concurrent claim is taking, and goes on to the next). The same statement
  returns the task's file bindings and, on PostgreSQL, records the user's
  turn, so a claim is one round trip after the connection's check (two on
  SQLite, whose claim looks with a read first, and three when users compete,
  to record the turn).
* Heartbeats, and a finish with no output tags to record, are one statement
  in autocommit too; a finish that records output tags is one transaction.
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

import json
import time
from collections.abc import Sequence
from typing import Any, NamedTuple

from sqlalchemy import BigInteger, Connection, Row, and_, bindparam, exists, func, select, update
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from teabox.failure_kinds import TaskFailureKind
from teabox.platform.db import Database
from teabox.platform.db_clock import database_now
from teabox.platform.file_keys import FileKeys
from teabox.platform.lease import DEFAULT_MAX_ATTEMPTS
from teabox.platform.models import DataFile, QueueTurn, Task, TaskData
from teabox.platform.notify import Notifier, PollingNotifier, Topic
from teabox.platform.portable_sql import hex_text, json_rows, qualified
from teabox.platform.staged import CryptoSpec, Outcome, StagedInput, StagedOutput, StagedTask, TaskLimits
from teabox.platform.states import TaskStatus
from teabox.platform.task_metrics import observe_recorded

_RUNNING = TaskStatus.RUNNING.value
_STAGED = TaskStatus.STAGED.value
_CANCELED = TaskStatus.CANCELED.value
_FAILED = TaskStatus.FAILED.value

# The statements every task runs, built once with bound parameters: building a statement and
# computing its cache key would cost more than executing it. Parameter names differ from
# column names, which SQLAlchemy reserves for the SET clause.
_tasks, _bound, _files, _turns = Task.__table__, TaskData.__table__, DataFile.__table__, QueueTurn.__table__
_t = _tasks.c

# Is anything staged? SQLite's claim asks with a read first, which takes no lock in WAL mode, so that a worker
# that finds nothing never makes the service's writers wait; PostgreSQL's claim needs no such care.
_ANY_STAGED = select(_t.id).where(_t.status == _STAGED).limit(1)

# Whose turn it is, in SQL, so that the claim is one statement: per user with staged tasks, how many
# of their tasks run and when they were last served (never: first), then their oldest staged task.
_waiting, _running = _tasks.alias("waiting"), _tasks.alias("running")
_TURNS = (
    select(
        _waiting.c.creator.label("user"),
        select(func.count())
        .where(_running.c.status == _RUNNING, _running.c.creator == _waiting.c.creator)
        .scalar_subquery()
        .label("running"),
        func.coalesce(
            select(_turns.c.served_at).where(_turns.c.user_id == _waiting.c.creator).scalar_subquery(), -1.0
        ).label("served"),
    )
    .where(_waiting.c.status == _STAGED)
    .group_by(_waiting.c.creator)
    .subquery("turns")
)
_candidate = _tasks.alias("candidate")
_NEXT = (
    select(_candidate.c.id)
    .join(_TURNS, _TURNS.c.user == _candidate.c.creator)
    .where(_candidate.c.status == _STAGED, _TURNS.c.running < bindparam("cap", type_=BigInteger))
    .order_by(_TURNS.c.running, _TURNS.c.served, _candidate.c.staged_at)
    .limit(1)
    # Concurrent claimers on PostgreSQL skip the rows others are taking, in the same order.
    .with_for_update(skip_locked=True, of=_candidate)
    .scalar_subquery()
)
# Each bound file as [direction, data name, file id, url, schema, sealed key (hex), cmac (hex)].
_BINDINGS = (
    select(
        json_rows(
            _bound.c.direction,
            _bound.c.data_name,
            _files.c.id,
            _files.c.url,
            _files.c.schema,
            hex_text(_files.c.sealed_key),
            hex_text(_files.c.cmac),
        )
    )
    .join(_files, _files.c.id == _bound.c.file_id)
    .where(_bound.c.task_id == _t.id)
    .scalar_subquery()
)
_OTHERS_WAITING = exists().where(_waiting.c.status == _STAGED, _waiting.c.creator != _t.creator)
_MORE_STAGED = exists().where(_waiting.c.status == _STAGED, _waiting.c.id != _t.id)
_CLAIM = (
    update(_tasks)
    .where(_t.id == _NEXT, _t.status == _STAGED)
    .values(
        status=_RUNNING,
        worker_id=bindparam("claimer"),
        attempt=_t.attempt + 1,
        lease_seconds=bindparam("lease"),
        lease_expires_at=database_now() + bindparam("lease"),
        updated_at=database_now(),
    )
    # Everything the worker needs, read back by the claiming UPDATE itself.
    .returning(
        _t.id,
        _t.creator,
        _t.attempt,
        _t.function_id,
        _t.payload_sha256,
        _t.function_arguments,
        _t.limits,
        qualified(_BINDINGS).label("bindings"),
        qualified(_OTHERS_WAITING).label("contended"),
        qualified(_MORE_STAGED).label("more"),
    )
)
# The served user's turn is recorded by the same statement on PostgreSQL (a data-modifying WITH), by
# a second one on SQLite, and there only when another user waits: turns matter only between users.
_claimed = _CLAIM.cte("claimed")
_served_pg = postgresql_insert(_turns).from_select(["user_id", "served_at"], select(_claimed.c.creator, database_now()))
_CLAIM_AND_SERVE = select(_claimed).add_cte(
    _served_pg.on_conflict_do_update(
        index_elements=[_turns.c.user_id], set_={"served_at": _served_pg.excluded.served_at}
    ).cte("served")
)
_served_sqlite = sqlite_insert(_turns).values(user_id=bindparam("user"), served_at=database_now())
_SERVED = _served_sqlite.on_conflict_do_update(
    index_elements=[_turns.c.user_id], set_={"served_at": _served_sqlite.excluded.served_at}
)
# No cap on running tasks per user: a bound no count reaches.
_NO_CAP = 2**62
_RUN = and_(_t.id == bindparam("task"), _t.worker_id == bindparam("holder"), _t.attempt == bindparam("run_attempt"))
_HELD = and_(_RUN, _t.status == _RUNNING)
_HEARTBEAT = update(_tasks).where(_HELD).values(lease_expires_at=database_now() + _t.lease_seconds)
_END = update(_tasks).where(_HELD)  # SET: the parameters given
_FINISH_ALONE = update(_tasks).where(  # SET: the parameters given
    _HELD, ~exists().where(_bound.c.task_id == _t.id, _bound.c.direction == "output")
)
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
# Leases are stamped and judged by the database's clock alone (see teabox.platform.db_clock).
_LAPSED = and_(_t.worker_id.is_not(None), _t.lease_expires_at < database_now())  # running or canceled
_ANY_LAPSED = select(_t.id).where(_LAPSED).limit(1)
_EXPIRED = and_(_t.status == _RUNNING, _t.lease_expires_at < database_now())
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
_RELEASE = (
    update(_tasks)
    .where(_t.worker_id == bindparam("dead"), _t.lease_expires_at.is_not(None))
    .values(lease_expires_at=database_now() - 1.0)
)


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

        See :meth:`claim_telling_more` for the rules.
        """
        return self.claim_telling_more(worker_id, lease_seconds, max_running_per_user)[0]

    def claim_telling_more(
        self, worker_id: str, lease_seconds: float, max_running_per_user: int | None = None
    ) -> tuple[StagedTask | None, bool]:
        """Take the next staged task for ``worker_id`` (None if there is none it may take), and whether any
        other task was staged when it was taken (False with None).

        The next task is the oldest staged task of the user whose turn it is:
        users with fewer tasks running first, then the one served longest ago,
        then the one waiting longest. So one user's flood of tasks never makes
        another user's task wait behind it, and with one worker users take
        turns. A user who already has ``max_running_per_user`` tasks running
        is passed over. The task
        becomes ``Running`` with ``attempt`` increased by one and a lease of
        ``lease_seconds``; the returned :class:`StagedTask` carries everything
        the run needs (payload hash, merged arguments, each file's URL and its
        owner's crypto, the function's limits).
        """
        claiming = {
            "claimer": worker_id,
            "lease": lease_seconds,
            "cap": _NO_CAP if max_running_per_user is None else max_running_per_user,
        }
        if not self.database.is_sqlite:
            with self.database.autocommitting() as connection:
                row = connection.execute(_CLAIM_AND_SERVE, claiming).first()
        else:
            with self.database.autocommitting() as connection:
                if connection.execute(_ANY_STAGED).first() is None:
                    return None, False
                row = connection.execute(_CLAIM, claiming).first()
                if row is not None and (row.contended or max_running_per_user is not None):
                    connection.execute(_SERVED, {"user": row.creator})
        return (None, False) if row is None else (_staged_task(row, self.file_keys), bool(row.more))

    def heartbeat(self, task_id: str, worker_id: str, attempt: int) -> bool:
        """Extend the lease. False means stop now: the task was canceled or the lease was lost."""
        with self.database.autocommitting() as connection:
            return connection.execute(_HEARTBEAT, ActiveRun(task_id, worker_id, attempt).params).rowcount == 1

    def finish(self, task_id: str, worker_id: str, attempt: int, outcome: Outcome) -> bool:
        """Record how the run ended, atomically (one statement, or one transaction when there are output tags).

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
        run, ending = ActiveRun(task_id, worker_id, attempt), _ending(outcome, time.time())
        if not outcome.tags:
            # Nothing to record but the task's own row (a failure, or a task without outputs): one statement.
            with self.database.autocommitting() as connection:
                if connection.execute(_FINISH_ALONE if outcome.ok else _END, run.params | ending).rowcount == 1:
                    observe_recorded(outcome)
                    self.notifier.notify(Topic.RESULTS)
                    return True
            # Not held any more, or it has outputs whose missing tags fail it: the full path says which.
        with self.database.writing() as connection:
            recorded, ended = _finish(connection, run, outcome, ending)
        if recorded:
            observe_recorded(outcome)
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
            if connection.execute(_ANY_LAPSED).first() is None:
                return 0
        why = f"the worker running the task stopped responding, {max_attempts} times"
        with self.database.writing() as connection:
            retried = connection.execute(_RETRY, {"now": now, "max_attempts": max_attempts}).rowcount
            lost = connection.execute(_GIVE_UP, {"now": now, "max_attempts": max_attempts, "why": why}).rowcount
            connection.execute(_FORGET_CANCELED)
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
            return connection.execute(_RELEASE, {"dead": worker_id}).rowcount

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


def _failed(kind: TaskFailureKind, reason: str) -> dict[str, Any]:
    return {"status": _FAILED, "failure_kind": kind.value, "reason": reason, "return_value": None}


def _ending(outcome: Outcome, now: float) -> dict[str, Any]:
    """The task's columns once the run has ended with ``outcome``."""
    ending: dict[str, Any] = {
        "worker_id": None,
        "lease_expires_at": None,
        "updated_at": now,
        "ended_at": now,
        "metrics": dict(outcome.metrics),
    }
    if outcome.ok:
        ending |= {
            "status": TaskStatus.FINISHED.value,
            "return_value": outcome.return_value,
            "tags": {name: tag.hex() for name, tag in outcome.tags.items()},
            "failure_kind": None,
            "reason": None,
        }
    else:
        ending |= _failed(outcome.failure_kind or TaskFailureKind.HOST_ERROR, outcome.reason or "the run failed")
    return ending


def _finish(connection: Connection, run: ActiveRun, outcome: Outcome, ending: dict[str, Any]) -> tuple[bool, bool]:
    """(whether the outcome was recorded as given, whether the task ended just now).

    The outputs are checked before the task's status is written, so that the one UPDATE writes the
    status the task ends in (a run whose outputs cannot be recorded ends ``Failed``, never
    ``Finished`` first): the state table holds for every statement, not only for the transaction.
    """
    # Outputs are bound only to declared names, so for a task without any this reads nothing.
    bound = connection.execute(_BOUND_OUTPUTS, {"task": run.task_id}).all() if outcome.ok else []
    problem = _outputs_problem(run.task_id, bound, outcome.tags) if outcome.ok else None
    if problem is not None:
        ending = ending | {"tags": None} | _failed(TaskFailureKind.OUTPUT_ERROR, problem)
    if connection.execute(_END, run.params | ending).rowcount != 1:
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


class _Binding(NamedTuple):
    direction: str
    data_name: str
    id: str
    url: str
    schema: str
    sealed_key: bytes
    cmac: bytes | None


def _bindings(claimed: Any) -> list[_Binding]:
    """The claim's ``bindings`` column: NULL (no rows, PostgreSQL) or a JSON array of rows, in data-name order."""
    rows = json.loads(claimed) if isinstance(claimed, str) else claimed or []
    return sorted(
        (
            _Binding(direction, name, file_id, url, schema, bytes.fromhex(key), bytes.fromhex(cmac) if cmac else None)
            for direction, name, file_id, url, schema, key, cmac in rows
        ),
        key=lambda binding: binding.data_name,
    )


def _staged_task(row: Any, file_keys: FileKeys) -> StagedTask:
    bindings = _bindings(row.bindings)
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
