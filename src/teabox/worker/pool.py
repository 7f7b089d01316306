"""The supervisor: N worker processes, kept alive, stopped when their task is canceled.

Used by ``teabox serve --workers N`` (in a thread of the server process) and
by ``teabox worker`` (in the foreground). Each worker is a separate process
(``spawn`` context: no state inherited from the server, no forked locks), so
a payload that runs away, or a worker that crashes, harms nothing else. Every
tenth of a second the supervisor

* restarts a worker process that died, after ending its lease at once so the
  task it held is retried (or failed with ``worker_lost`` after the last
  attempt) within the same tick, and removes its abandoned staging directory;
* kills (SIGKILL) the process running a task that was canceled, which stops
  the payload within a second without touching other workers' tasks;
* every half second (``REQUEUE_PERIOD_SECONDS``), recovers runs whose lease expired, wherever their
  worker was.

A worker never outlives its supervisor: see :func:`worker_main`.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import signal
import socket
import threading
import time
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess
from pathlib import Path
from typing import Self

from teabox.logs import configure_from_environment, task_extra
from teabox.platform.lease import REQUEUE_PERIOD_SECONDS
from teabox.platform.settings import DEFAULT_WORKERS, Settings
from teabox.platform.staged import StagedTask
from teabox.platform.storage import Storage
from teabox.worker.loop import open_direct_storage, open_worker
from teabox.worker.pacing import Pace
from teabox.worker.settings import WorkerSettings
from teabox.worker.staging import sweep_abandoned

log = logging.getLogger(__name__)

_TICK = 0.1
_CANCEL_CHECK = 0.2
_EXPIRY_CHECK = REQUEUE_PERIOD_SECONDS
_FAST_RESTART = 1.0  # a worker that dies sooner than this after starting is restarted with back-off
_MAX_BACKOFF = 30.0
_ORPHANED = 70  # exit code of a worker that found its supervisor dead
_RUN_LOST = 71  # exit code of a remote worker that ended its own run: canceled, or its lease passed on


def worker_main(settings: WorkerSettings, worker_id: str, supervisor: int, lifeline: Connection) -> None:
    """Entry point of one worker process: run the loop until SIGTERM, or until the supervisor is gone.

    ``supervisor`` is the pid that started this process, fixed before it started:
    a check made here of ``getppid()`` alone would take PID 1 for the supervisor
    when it died while this process was still importing. ``lifeline`` is the
    read end of a pipe only the supervisor holds open; its end of file is the
    supervisor's death, whenever it happens.
    """
    if os.getppid() != supervisor:
        os._exit(_ORPHANED)
    threading.Thread(target=_exit_when_orphaned, args=(lifeline, worker_id), daemon=True).start()
    configure_from_environment(worker_id)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C reaches the whole group; the supervisor decides
    # Beside the data directory the supervisor kills a canceled run; on another machine the worker does.
    loop = open_worker(settings, worker_id, on_lost=_end_lost_run if settings.remote else None)
    signal.signal(signal.SIGTERM, lambda _signum, _frame: loop.request_stop())
    try:
        loop.run_forever()
    finally:
        loop.close()


def _end_lost_run(task: StagedTask) -> None:
    """Stop the run of a task this worker no longer holds, at once: exiting kills its sandbox process too.

    Nothing it would still publish could be recorded; what it already published is withdrawn by the
    platform (a canceled task) or overwritten by the retry (a lease passed on). The pool starts a new worker.
    """
    log.warning("task %s was canceled or its lease passed on; stopping its run", task.task_id)
    logging.shutdown()
    os._exit(_RUN_LOST)


def _exit_when_orphaned(lifeline: Connection, worker_id: str) -> None:
    """Exit at once when the supervisor dies: nobody could cancel or watch this worker's runs any more.

    The task it holds keeps its lease until the lease expires, and is then retried
    by whichever supervisor or API server sweeps next, like any lost worker's task.
    Its sandbox process dies with it.
    """
    try:
        lifeline.recv()
    except (EOFError, OSError):
        pass
    log.warning("worker %s: its supervisor is gone; exiting", worker_id)
    os._exit(_ORPHANED)


@dataclass
class _Slot:
    index: int
    generation: int = 0
    process: BaseProcess | None = None
    lifeline: Connection | None = None  # the write end; closing it (or dying) tells the worker to exit
    worker_id: str = ""
    started_at: float = 0.0
    backoff: float = 0.0
    restart_at: float = 0.0


@dataclass
class WorkerPool:
    """Starts, watches and stops ``workers`` worker processes on one data directory.

    With ``settings.remote`` the workers talk to API servers and the pool opens
    no database: it only restarts dead workers and clears their staging
    directories, and the servers recover the leases of workers that died.
    """

    settings: WorkerSettings
    workers: int = DEFAULT_WORKERS
    _slots: list[_Slot] = field(default_factory=list, init=False)
    _storage: Storage | None = field(default=None, init=False)
    _stopping: threading.Event = field(default_factory=threading.Event, init=False)
    _thread: threading.Thread | None = field(default=None, init=False)
    _context: multiprocessing.context.SpawnContext = field(
        default_factory=lambda: multiprocessing.get_context("spawn"), init=False
    )

    def __post_init__(self) -> None:
        if self.workers < 1:
            raise ValueError(f"a worker pool needs at least one worker, not {self.workers}")

    # -- life cycle -----------------------------------------------------------------------

    def start(self) -> Self:
        """Open the data directory, clear what dead workers left, start the workers and the supervisor.

        Workers never migrate: ``teabox serve`` or ``teabox admin migrate`` does, once.
        """
        self._storage = None if self.settings.remote else open_direct_storage(self.settings)
        sweep_abandoned(self.settings.data_dir)
        self._slots = [_Slot(index) for index in range(self.workers)]
        for slot in self._slots:
            self._spawn(slot)
        self._thread = threading.Thread(target=self._supervise, name="teabox-worker-supervisor", daemon=True)
        self._thread.start()
        return self

    def stop(self, grace_seconds: float = 10.0) -> None:
        """Let each worker finish its current task (up to ``grace_seconds``), then kill what is left."""
        self._stopping.set()
        if self._thread is not None:
            self._thread.join()
        for slot in self._slots:
            if slot.process is not None and slot.process.is_alive():
                os.kill(slot.process.pid, signal.SIGTERM)  # type: ignore[arg-type]
        deadline = time.monotonic() + grace_seconds
        for slot in self._slots:
            if slot.process is not None:
                slot.process.join(max(0.0, deadline - time.monotonic()))
                if slot.process.is_alive():
                    slot.process.kill()
                    slot.process.join()
                    self._recover(slot)
            if slot.lifeline is not None:
                slot.lifeline.close()
        sweep_abandoned(self.settings.data_dir)
        if self._storage is not None:
            self._storage.queue.requeue_expired(self.settings.max_attempts)
            self._storage.close()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def worker_pids(self) -> dict[str, int]:
        """Worker id -> process id of the workers now running (for operators and tests)."""
        return {
            slot.worker_id: slot.process.pid
            for slot in self._slots
            if slot.process is not None and slot.process.pid is not None and slot.process.is_alive()
        }

    def request_stop(self) -> None:
        """Ask :meth:`wait` to return (safe from a signal handler); :meth:`stop` does the stopping."""
        self._stopping.set()

    def wait(self) -> None:
        """Block until :meth:`request_stop` or :meth:`stop`."""
        while not self._stopping.wait(0.5):
            pass

    # -- supervision ----------------------------------------------------------------------

    def _spawn(self, slot: _Slot) -> None:
        slot.generation += 1
        slot.worker_id = f"{socket.gethostname()}-{os.getpid()}-w{slot.index}-{slot.generation}"
        if slot.lifeline is not None:
            slot.lifeline.close()
        reader, slot.lifeline = self._context.Pipe(duplex=False)
        slot.process = self._context.Process(
            target=worker_main,
            args=(self.settings, slot.worker_id, os.getpid(), reader),
            name=f"teabox-worker-{slot.index}",
            daemon=True,
        )
        slot.process.start()
        reader.close()
        slot.started_at = time.monotonic()

    def _supervise(self) -> None:
        next_cancel_check = next_expiry_check = 0.0
        while not self._stopping.wait(_TICK):
            now = time.monotonic()
            try:
                if now >= next_cancel_check and self._storage is not None:
                    self._stop_canceled()
                    next_cancel_check = now + _CANCEL_CHECK
                for slot in self._slots:
                    self._tend(slot, now)
                if now >= next_expiry_check and self._storage is not None:
                    self._storage.queue.requeue_expired(self.settings.max_attempts)
                    next_expiry_check = now + _EXPIRY_CHECK
            except Exception:
                log.exception("worker supervision failed; retrying")

    def _stop_canceled(self) -> None:
        assert self._storage is not None
        by_id = {slot.worker_id: slot for slot in self._slots}
        for run in self._storage.queue.canceled_running_tasks():
            slot = by_id.get(run.worker_id)
            if slot is not None and slot.process is not None and slot.process.is_alive():
                log.info(
                    "stopping worker %s: its task %s was canceled",
                    slot.worker_id,
                    run.task_id,
                    extra=task_extra(run.task_id, run.attempt, run.worker_id),
                )
                slot.process.kill()
                slot.process.join()

    def _tend(self, slot: _Slot, now: float) -> None:
        """Replace a dead worker, backing off if it keeps dying at start-up."""
        assert slot.process is not None
        if slot.process.is_alive():
            return
        if slot.restart_at == 0.0:
            if slot.process.exitcode not in (0, -signal.SIGKILL, _RUN_LOST):
                log.warning("worker %s exited with code %s; restarting it", slot.worker_id, slot.process.exitcode)
            self._recover(slot)
            quick = now - slot.started_at < _FAST_RESTART
            slot.backoff = min(_MAX_BACKOFF, max(_FAST_RESTART, slot.backoff * 2)) if quick else 0.0
            slot.restart_at = now + slot.backoff
        if now >= slot.restart_at:
            slot.restart_at = 0.0
            self._spawn(slot)

    def _recover(self, slot: _Slot) -> None:
        """What a dead worker cannot do itself: give up its lease and remove its staging directory."""
        if self._storage is not None and self._storage.queue.release_worker(slot.worker_id):
            self._storage.queue.requeue_expired(self.settings.max_attempts)
        sweep_abandoned(self.settings.data_dir)


def start_pool(
    data_dir: Path, workers: int, settings: Settings, *, pace: Pace | None = None, **overrides: object
) -> WorkerPool:
    """Start ``workers`` workers on ``data_dir`` that obey the platform's ``settings``."""
    return WorkerPool(WorkerSettings.for_platform(data_dir, settings, pace=pace, **overrides), workers).start()
