"""The one interface between a worker and the platform, whichever side of a network it is on.

A worker needs seven things from the platform: claim a task (waiting a
little when there is none), renew its lease, claim its outputs' keys before
encrypting, record how the run ended, read the function's payload, read and
write the platform-hosted files of the task it holds, and be woken from a
wait. :class:`WorkerPlatform` names them; :mod:`teabox.worker.direct`
implements them over the database and blob store (the embedded pool of
``teabox serve``), :mod:`teabox.worker.remote` over HTTP with a worker token
(a worker on another machine that holds no platform secret). The worker
loop (:mod:`teabox.worker.loop`) and the same tests run over both.
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from typing import Protocol

from teabox.platform.queue import ActiveRun
from teabox.platform.staged import Outcome, StagedTask
from teabox.worker.fetch import HostedFiles


class WorkerPlatform(Protocol):
    hosted: HostedFiles

    def claim(self, worker_id: str, lease_seconds: float, max_running_per_user: int | None) -> StagedTask | None:
        """The next task for ``worker_id``, or None after waiting a while (bounded) for one to be staged."""
        ...

    def heartbeat(self, run: ActiveRun) -> bool:
        """Extend the run's lease; False means stop: canceled, or the lease passed to another worker."""
        ...

    def begin_writes(self, run: ActiveRun) -> str | None:
        """Give the task's outputs to this task's writes; None to go ahead, or why the run must publish nothing."""
        ...

    def finish(self, run: ActiveRun, outcome: Outcome) -> bool:
        """Record the outcome; False means it was refused and what was published must be withdrawn."""
        ...

    def payload(self, task: StagedTask) -> bytes:
        """The payload of a task this worker holds (the caller checks it against ``task.payload_sha256``)."""
        ...

    def holding(self, run: ActiveRun) -> AbstractContextManager[None]:
        """Inside this block, payload and hosted files are read and written on behalf of ``run``."""
        ...

    def wake(self) -> None:
        """End a :meth:`claim` that is waiting (a stop was requested); safe from another thread."""
        ...

    def close(self) -> None: ...
