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
import time
from types import TracebackType

from teabox.executor import Executor
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
    """Renews a claimed task's lease from a background thread while the payload runs.

    The payload runs in native code that releases the GIL, so the thread keeps
    beating even while a run is busy. It stops beating once the platform
    answers that the task was canceled or its lease passed to someone else;
    the run's outcome will then be refused by ``finish``.
    """

    def __init__(self, queue: TaskQueue, task: StagedTask, worker_id: str, interval: float) -> None:
        self._queue, self._task, self._worker_id, self._interval = queue, task, worker_id, interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._beat, name=f"heartbeat-{task.task_id}", daemon=True)

    def _beat(self) -> None:
        while not self._stop.wait(self._interval):
            try:
                alive = self._queue.heartbeat(self._task.task_id, self._worker_id, self._task.attempt)
            except Exception:  # noqa: BLE001 - a database hiccup must not end the run; the lease has slack
                log.warning("heartbeat for %s failed", self._task.task_id, exc_info=True)
                continue
            if not alive:
                return

    def __enter__(self) -> Heartbeat:
        self._thread.start()
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self._stop.set()
        self._thread.join()


def _internal_failure(exc: BaseException) -> TaskRun:
    """A bug in teabox itself during a task: fail the task with a reason instead of leaving it stuck."""
    return TaskRun(Outcome(failure_kind="host_error", reason=f"internal error in the worker: {type(exc).__name__}: {exc}"))


class WorkerLoop:
    """Claims and runs tasks until ``stop`` is set."""

    def __init__(self, settings: WorkerSettings, queue: TaskQueue, context: WorkerContext, worker_id: str) -> None:
        self.settings, self.queue, self.context, self.worker_id = settings, queue, context, worker_id
        self.stop = threading.Event()

    def run_once(self) -> bool:
        """Claim and run at most one task; returns whether there was one."""
        task = self.queue.claim(self.worker_id, self.settings.lease_seconds)
        if task is None:
            return False
        with Heartbeat(self.queue, task, self.worker_id, self.settings.heartbeat_seconds):
            try:
                run = run_task(task, self.context)
            except Exception as exc:  # noqa: BLE001 - see _internal_failure
                log.exception("task %s failed inside the worker", task.task_id)
                run = _internal_failure(exc)
        if not self.queue.finish(task.task_id, self.worker_id, task.attempt, run.outcome):
            # Canceled or taken over while we ran: what we published is not this task's result.
            run.publication.withdraw()
        return True

    def run_forever(self) -> None:
        idle = self.settings.idle_poll_seconds
        while not self.stop.is_set():
            try:
                busy = self.run_once()
            except Exception:  # noqa: BLE001 - the database may be briefly unavailable; keep serving
                log.exception("worker %s could not claim or finish a task", self.worker_id)
                busy = False
                time.sleep(1.0)
            if not busy:
                self.stop.wait(idle)


def open_worker(settings: WorkerSettings, worker_id: str) -> tuple[WorkerLoop, Storage]:
    """Everything one worker process needs, opened on its data directory."""
    storage = Storage.open(settings.data_dir, migrate=False)
    context = WorkerContext(
        staging=WorkerStaging(settings.data_dir, worker_id),
        transfers=Transfers(settings.transfers, hosted=storage.hosted),
        payloads=PayloadCache(storage.blobs.read),
        executor=Executor(settings.module_cache_dir),
    )
    return WorkerLoop(settings, storage.queue, context, worker_id), storage
