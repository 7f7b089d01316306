"""The worker's platform over the database and blob store, for workers beside the data directory."""

from __future__ import annotations

from contextlib import AbstractContextManager, nullcontext

from teabox.platform.notify import Topic
from teabox.platform.queue import ActiveRun
from teabox.platform.staged import Outcome, StagedTask
from teabox.platform.storage import Storage
from teabox.worker.fetch import HostedFiles


class DirectPlatform:
    """:class:`teabox.worker.interface.WorkerPlatform` on an open :class:`Storage` (which it closes).

    An idle claim sleeps on the ``queue`` wake-up (poked when a task is staged
    or put back), looking at the queue on its own every ``poll_seconds``.
    """

    def __init__(self, storage: Storage) -> None:
        self.storage = storage
        self.hosted: HostedFiles = storage.hosted
        self._listener = storage.notifier.listen(Topic.QUEUE)

    def claim(self, worker_id: str, lease_seconds: float, max_running_per_user: int | None) -> StagedTask | None:
        self._listener.drain()  # wake-ups sent before this look at the queue are answered by it
        task = self.storage.queue.claim(worker_id, lease_seconds, max_running_per_user)
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
        self.storage.close()
