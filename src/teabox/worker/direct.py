"""The worker's platform over the database and blob store, for workers beside the data directory."""

from __future__ import annotations

import fcntl
import os
from contextlib import AbstractContextManager, nullcontext
from pathlib import Path
from types import TracebackType

from teabox.platform.notify import Topic
from teabox.platform.private_files import PRIVATE_FILE
from teabox.platform.queue import ActiveRun
from teabox.platform.staged import Outcome, StagedTask
from teabox.platform.storage import WAKE_DIR, Storage
from teabox.worker.fetch import HostedFiles


class DirectPlatform:
    """:class:`teabox.worker.interface.WorkerPlatform` on an open :class:`Storage` (which it closes).

    An idle claim sleeps on the ``queue`` wake-up (poked when a task is staged
    or put back), looking at the queue on its own every ``poll_seconds``.
    On SQLite, whose wake-up reaches every idle worker at once, the workers
    claim one after another (see :class:`ClaimTurns`). A worker whose last
    claim took the only staged task does not ask the database again after its
    run unless a wake-up came meanwhile: every staging wakes it after its commit.
    """

    def __init__(self, storage: Storage) -> None:
        self.storage = storage
        self.hosted: HostedFiles = storage.hosted
        self._listener = storage.notifier.listen(Topic.QUEUE)
        self._alone = False  # the last claim took the only task staged
        self._turns = ClaimTurns(storage.data_dir / WAKE_DIR / "claim.lock") if storage.database.is_sqlite else None

    def claim(self, worker_id: str, lease_seconds: float, max_running_per_user: int | None) -> StagedTask | None:
        if self._alone:
            # The last claim left nothing else staged, and each staging since has woken us after its commit:
            # wait for one without asking the database. Woken or not, the loop asks again (checking for a
            # stop request first), and then the database.
            self._alone = False
            self._listener.wait(self._listener.poll_seconds)
            return None
        self._listener.drain()  # wake-ups sent before this look at the queue are answered by it
        with self._turns or nullcontext():
            task, more = self.storage.queue.claim_telling_more(worker_id, lease_seconds, max_running_per_user)
        self._alone = task is not None and not more
        if task is None:
            self._listener.wait(self._listener.poll_seconds)
        return task

    def heartbeat(self, run: ActiveRun) -> bool:
        return self.storage.queue.heartbeat(*run)

    def begin_writes(self, run: ActiveRun) -> str | None:
        return self.storage.queue.begin_writes(*run)

    def finish(self, run: ActiveRun, outcome: Outcome) -> bool:
        return self.storage.queue.finish(*run, outcome)

    def payload(self, task: StagedTask) -> bytes:
        return self.storage.blobs.read(task.payload_sha256)

    def holding(self, run: ActiveRun) -> AbstractContextManager[None]:
        return nullcontext()  # the data directory's files are this process's to read

    def wake(self) -> None:
        self._listener.ring()

    def close(self) -> None:
        self._listener.close()
        if self._turns is not None:
            self._turns.close()
        self.storage.close()


class ClaimTurns:
    """An exclusive lock on a file, held by the one worker process claiming on this machine at a time.

    A staged task wakes every idle worker, and each used to try the claim's
    write at once: one took the task, and the others each paid for a write
    (waiting for SQLite's lock, then an UPDATE) that found nothing. Taking turns,
    each of the others starts after the first has committed, and the claim's
    opening read (which takes no lock) tells it in one statement that the queue
    is empty. The lock dies with its process (``flock``), so a killed worker
    never leaves it held.
    """

    def __init__(self, path: Path) -> None:
        self._fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, PRIVATE_FILE)

    def __enter__(self) -> None:
        fcntl.flock(self._fd, fcntl.LOCK_EX)

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, traceback: TracebackType | None
    ) -> None:
        fcntl.flock(self._fd, fcntl.LOCK_UN)

    def close(self) -> None:
        os.close(self._fd)
