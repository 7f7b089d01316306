"""The worker loop: claim a staged task, keep its lease alive, run it, record how it ended.

One loop runs in each worker process. Everything it shares with other
processes goes through the database (the claim, the lease, the outcome), so
the same loop works beside ``teabox serve`` on SQLite and on other machines
against PostgreSQL.

Cancel and crash handling are not the loop's job: a payload cannot be
interrupted from inside its process without harming it, so the supervisor
(:mod:`teabox.worker.pool`) kills the process running a canceled task, and
the queue's lease expiry retries or fails a task whose worker vanished.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager

from teabox.executor import Executor
from teabox.failure_kinds import TaskFailureKind
from teabox.logs import task_extra, task_fields
from teabox.platform.db import WORKER_POOL
from teabox.platform.notify import Listener, Topic
from teabox.platform.queue import TaskQueue
from teabox.platform.staged import Outcome, StagedTask
from teabox.platform.storage import Storage
from teabox.worker.fetch import Transfers
from teabox.worker.payloads import PayloadCache
from teabox.worker.run_task import TaskRun, WorkerContext, run_task
from teabox.worker.settings import WorkerSettings
from teabox.worker.staging import WorkerStaging

log = logging.getLogger(__name__)


class Heartbeat:
    """Renews the lease of the task this worker holds, from one background thread.

    The payload runs in native code that releases the GIL, so the thread keeps
    beating even while a run is busy. It stops beating for a task once the
    platform answers that the task was canceled or its lease passed to
    someone else; ``finish`` will then refuse the run's outcome. One thread
    serves every task of the process: starting a thread per task would cost
    more than a trivial task's whole run.
    """

    def __init__(self, queue: TaskQueue, worker_id: str, interval: float) -> None:
        self._queue, self._worker_id, self._interval = queue, worker_id, interval
        self._current: StagedTask | None = None
        self._closed = threading.Event()
        self._thread = threading.Thread(target=self._beat, name="heartbeat", daemon=True)
        self._thread.start()

    @contextmanager
    def holding(self, task: StagedTask) -> Iterator[None]:
        self._current = task
        try:
            yield
        finally:
            self._current = None

    def _beat(self) -> None:
        given_up: tuple[str, int] | None = None
        while not self._closed.wait(self._interval):
            task = self._current
            if task is None or (task.task_id, task.attempt) == given_up:
                continue
            try:
                alive = self._queue.heartbeat(task.task_id, self._worker_id, task.attempt)
            except Exception:
                log.warning(
                    "heartbeat for %s failed",
                    task.task_id,
                    exc_info=True,
                    extra=task_extra(task.task_id, task.attempt, self._worker_id),
                )
                continue
            if not alive:
                given_up = (task.task_id, task.attempt)

    def close(self) -> None:
        self._closed.set()
        self._thread.join()


def _internal_failure(exc: BaseException) -> TaskRun:
    """A bug in teabox itself during a task: fail the task with a reason instead of leaving it stuck."""
    return TaskRun(
        Outcome(
            failure_kind=TaskFailureKind.HOST_ERROR, reason=f"internal error in the worker: {type(exc).__name__}: {exc}"
        )
    )


def _log_end(task: StagedTask, outcome: Outcome, recorded: bool) -> None:
    if log.isEnabledFor(logging.INFO):
        result = outcome.failure_kind.value if outcome.failure_kind is not None else "finished"
        log.info(
            "task %s attempt %d: %s, %s",
            task.task_id,
            task.attempt,
            result,
            "recorded" if recorded else "not recorded (canceled or taken over): its outputs were withdrawn",
            extra={"result": result, "recorded": recorded},
        )


class WorkerLoop:
    """Claims and runs tasks until :meth:`request_stop`.

    An idle worker sleeps on its wake-up ``listener`` (poked when a task is
    staged or put back in the queue) and looks at the queue on its own only
    every ``listener.poll_seconds``, so idle workers cost next to nothing and
    never contend with the service for the database's write lock. A busy
    worker claims its next task as soon as it finishes one.
    """

    def __init__(
        self, settings: WorkerSettings, queue: TaskQueue, context: WorkerContext, worker_id: str, listener: Listener
    ) -> None:
        self.settings, self.queue, self.context, self.worker_id = settings, queue, context, worker_id
        self.listener = listener
        self.stop = threading.Event()
        self.heartbeat = Heartbeat(queue, worker_id, settings.heartbeat_seconds)

    def run_once(self) -> bool:
        """Claim and run at most one task; returns whether there was one."""
        task = self.queue.claim(self.worker_id, self.settings.lease_seconds, self.settings.max_running_per_user)
        if task is None:
            return False
        with task_fields(task.task_id, task.attempt, self.worker_id):
            with self.heartbeat.holding(task):
                try:
                    run = run_task(task, self.context)
                except Exception as exc:
                    log.exception("task %s failed inside the worker", task.task_id)
                    run = _internal_failure(exc)
            recorded = self.queue.finish(task.task_id, self.worker_id, task.attempt, run.outcome)
            if not recorded:
                # Canceled or taken over while we ran: what we published is not this task's result.
                run.publication.withdraw()
            _log_end(task, run.outcome, recorded)
        return True

    def run_forever(self) -> None:
        while not self.stop.is_set():
            self.listener.drain()  # wake-ups sent before this look at the queue are answered by it
            try:
                busy = self.run_once()
            except Exception:
                log.exception("worker %s could not claim or finish a task", self.worker_id)
                self.stop.wait(1.0)
                continue
            if not busy and not self.stop.is_set():
                self.listener.wait(self.listener.poll_seconds)

    def request_stop(self) -> None:
        """Stop after the current task (safe from a signal handler or another thread)."""
        self.stop.set()
        self.listener.ring()

    def close(self) -> None:
        self.heartbeat.close()
        self.listener.close()
        self.context.transfers.close()
        self.context.staging.close()


def open_worker(settings: WorkerSettings, worker_id: str) -> tuple[WorkerLoop, Storage]:
    """Everything one worker process needs, opened on its data directory."""
    storage = Storage.open(
        settings.data_dir, migrate=False, database_url=settings.database_url, pool=WORKER_POOL, blobs=settings.blobs
    )
    queue = storage.queue
    context = WorkerContext(
        staging=WorkerStaging(settings.data_dir, worker_id),
        transfers=Transfers(settings.transfers, hosted=storage.hosted),
        payloads=PayloadCache(storage.blobs.read),
        begin_writes=lambda task: queue.begin_writes(task.task_id, worker_id, task.attempt),
        executor=Executor(settings.module_cache_dir, isolation="subprocess"),
    )
    listener = storage.notifier.listen(Topic.QUEUE)
    return WorkerLoop(settings, storage.queue, context, worker_id, listener), storage
