"""The worker loop: claim a staged task, keep its lease alive, run it, record how it ended.

One loop runs in each worker process. Everything it shares with other
processes goes through a :class:`teabox.worker.interface.WorkerPlatform`:
the database beside ``teabox serve``, or the API servers' worker endpoints
for a worker on another machine (``teabox worker --url``).

Cancel and crash handling are not the loop's job: a payload cannot be
interrupted from inside its process without harming it, so the supervisor
(:mod:`teabox.worker.pool`) kills the process running a canceled task, and
the queue's lease expiry retries or fails a task whose worker vanished.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from teabox.errors import TeaboxError
from teabox.executor import Executor
from teabox.failure_kinds import TaskFailureKind
from teabox.logs import task_extra, task_fields
from teabox.platform.db import WORKER_POOL
from teabox.platform.queue import ActiveRun
from teabox.platform.staged import Outcome, StagedTask
from teabox.worker.fetch import Transfers
from teabox.worker.interface import WorkerPlatform
from teabox.worker.payloads import PayloadCache
from teabox.worker.run_task import TaskRun, WorkerContext, run_task
from teabox.worker.settings import WorkerSettings

if TYPE_CHECKING:
    from teabox.platform.storage import Storage
from teabox.worker.staging import WorkerStaging

log = logging.getLogger(__name__)


class Heartbeat:
    """Renews the lease of the task this worker holds, from one background thread.

    The payload runs in native code that releases the GIL, so the thread keeps
    beating even while a run is busy. It stops beating for a task once the
    platform answers that the task was canceled or its lease passed to
    someone else; ``finish`` will then refuse the run's outcome, and
    ``on_lost`` (if given) is called with the task: a worker nobody else can
    stop (another machine) ends its own run there. One thread serves every
    task of the process: starting a thread per task would cost more than a
    trivial task's whole run.
    """

    def __init__(
        self,
        platform: WorkerPlatform,
        worker_id: str,
        interval: float,
        on_lost: Callable[[StagedTask], None] | None = None,
    ) -> None:
        self._platform, self._worker_id, self._interval = platform, worker_id, interval
        self._on_lost = on_lost
        self._current: StagedTask | None = None
        # Held while a beat is answered and acted on, and to end a holding: once the run's finish may
        # have begun, no answer (which a recorded finish makes "not held") can stop the run.
        self._beating = threading.Lock()
        self._closed = threading.Event()
        self._thread = threading.Thread(target=self._beat, name="heartbeat", daemon=True)
        self._thread.start()

    @contextmanager
    def holding(self, task: StagedTask) -> Iterator[None]:
        self._current = task
        try:
            yield
        finally:
            with self._beating:
                self._current = None

    def _beat(self) -> None:
        given_up: tuple[str, int] | None = None
        while not self._closed.wait(self._interval):
            with self._beating:
                task = self._current
                if task is None or (task.task_id, task.attempt) == given_up:
                    continue
                try:
                    alive = self._platform.heartbeat(ActiveRun(task.task_id, self._worker_id, task.attempt))
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
                    if self._on_lost is not None:
                        self._on_lost(task)

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


# After a failed claim or finish (the platform unreachable, an API server restarting), wait this long
# before trying again, doubling up to the cap while it keeps failing.
_FIRST_RETRY_SECONDS = 0.25
_MAX_RETRY_SECONDS = 5.0


class WorkerLoop:
    """Claims and runs tasks until :meth:`request_stop`.

    An idle worker waits inside the platform's claim (on a wake-up beside the
    database, in a bounded long-poll over HTTP), so idle workers cost next to
    nothing. A busy worker claims its next task as soon as it finishes one.
    """

    def __init__(
        self,
        settings: WorkerSettings,
        platform: WorkerPlatform,
        context: WorkerContext,
        worker_id: str,
        on_lost: Callable[[StagedTask], None] | None = None,
    ) -> None:
        self.settings, self.platform, self.context, self.worker_id = settings, platform, context, worker_id
        self.stop = threading.Event()
        self.heartbeat = Heartbeat(platform, worker_id, settings.heartbeat_seconds, on_lost)

    def run_once(self) -> bool:
        """Claim and run at most one task; returns whether there was one."""
        task = self.platform.claim(self.worker_id, self.settings.lease_seconds, self.settings.max_running_per_user)
        if task is None:
            return False
        run = ActiveRun(task.task_id, self.worker_id, task.attempt)
        with task_fields(task.task_id, task.attempt, self.worker_id), self.platform.holding(run):
            with self.heartbeat.holding(task):
                try:
                    ran = run_task(task, self.context)
                except Exception as exc:
                    log.exception("task %s failed inside the worker", task.task_id)
                    ran = _internal_failure(exc)
            recorded = self.platform.finish(run, ran.outcome)
            if not recorded:
                # Canceled or taken over while we ran: what we published is not this task's result.
                ran.publication.withdraw()
            _log_end(task, ran.outcome, recorded)
        return True

    def run_forever(self) -> None:
        pause = _FIRST_RETRY_SECONDS
        while not self.stop.is_set():
            try:
                self.run_once()
            except Exception as exc:
                log.warning(
                    "worker %s could not claim or finish a task (%s); trying again in %g s",
                    self.worker_id,
                    exc,
                    pause,
                    # A platform that cannot be reached or refuses says why in one line; anything else is a bug.
                    exc_info=not isinstance(exc, TeaboxError) or log.isEnabledFor(logging.DEBUG),
                )
                self.stop.wait(pause)
                pause = min(_MAX_RETRY_SECONDS, pause * 2)
                continue
            pause = _FIRST_RETRY_SECONDS

    def request_stop(self) -> None:
        """Stop after the current task (safe from a signal handler or another thread)."""
        self.stop.set()
        self.platform.wake()

    def close(self) -> None:
        self.heartbeat.close()
        self.context.transfers.close()
        self.context.staging.close()
        self.platform.close()


def open_worker(
    settings: WorkerSettings, worker_id: str, on_lost: Callable[[StagedTask], None] | None = None
) -> WorkerLoop:
    """Everything one worker process needs: the platform (direct, or remote with ``settings.remote``)."""
    platform = _open_platform(settings)
    context = WorkerContext(
        staging=WorkerStaging(settings.data_dir, worker_id),
        transfers=Transfers(settings.transfers, hosted=platform.hosted),
        payloads=PayloadCache(platform.payload),
        begin_writes=lambda task: platform.begin_writes(ActiveRun(task.task_id, worker_id, task.attempt)),
        executor=Executor(settings.module_cache_dir, isolation="subprocess"),
    )
    return WorkerLoop(settings, platform, context, worker_id, on_lost)


def _open_platform(settings: WorkerSettings) -> WorkerPlatform:
    if settings.remote is not None:
        from teabox.worker.remote import RemotePlatform

        return RemotePlatform(settings.remote)
    from teabox.worker.direct import DirectPlatform

    return DirectPlatform(open_direct_storage(settings))


def open_direct_storage(settings: WorkerSettings) -> Storage:
    """The data directory's storage as workers open it: never migrating, with a worker's small pool."""
    from teabox.platform.storage import Storage

    return Storage.open(
        settings.data_dir, migrate=False, database_url=settings.database_url, pool=WORKER_POOL, blobs=settings.blobs
    )
