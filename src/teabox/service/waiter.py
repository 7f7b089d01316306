"""Long-poll support: wake waiting requests when their task ends, whoever ended it.

Workers run in other processes (and later on other machines), so an
in-memory event would miss their results. Whoever ends a task pokes the
``results`` wake-up after committing (see :mod:`teabox.platform.notify`); on
each poke the waiter asks the database which of the awaited tasks have
ended: one indexed query however many requests wait. While someone waits it
also asks every ``poll_seconds`` on its own, in case a poke never comes.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable

from teabox.platform.notify import Listener, Notifier, Topic

log = logging.getLogger(__name__)


class ResultWaiter:
    def __init__(self, ended_tasks: Callable[[list[str]], set[str]], notifier: Notifier) -> None:
        self._ended_tasks = ended_tasks
        self._notifier = notifier
        self._listener: Listener | None = None
        self._waiting: dict[str, list[asyncio.Future[None]]] = {}
        self._poller: asyncio.Task[None] | None = None

    def start(self) -> None:
        """Subscribe to the wake-ups; call it on the event loop that will serve the waits."""
        self._listener = self._notifier.listen(Topic.RESULTS)
        fd = self._listener.fileno()
        if fd is not None:
            asyncio.get_running_loop().add_reader(fd, self._woken)

    async def wait(self, task_id: str, timeout: float) -> bool:
        """Return True as soon as ``task_id`` has ended, False if ``timeout`` seconds pass first.

        The caller looks at the task first and calls this without awaiting
        anything in between, so no poke sent after that look can be missed.
        """
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiting.setdefault(task_id, []).append(future)
        if self._poller is None or self._poller.done():
            self._poller = asyncio.create_task(self._poll())
        try:
            await asyncio.wait_for(asyncio.shield(future), timeout)
            return True
        except TimeoutError:
            return False
        finally:
            waiters = self._waiting.get(task_id, [])
            if future in waiters:
                waiters.remove(future)
            if not waiters:
                self._waiting.pop(task_id, None)

    def _woken(self) -> None:
        assert self._listener is not None
        self._listener.drain()  # pokes after this point make the socket readable again
        if self._waiting:
            self._check()

    def _check(self) -> None:
        try:
            ended = self._ended_tasks(list(self._waiting))
        except Exception:  # the next poke or poll asks again
            log.exception("looking up ended tasks failed")
            return
        for task_id in ended:
            for future in self._waiting.pop(task_id, []):
                if not future.done():
                    future.set_result(None)

    async def _poll(self) -> None:
        assert self._listener is not None
        while self._waiting:
            await asyncio.sleep(self._listener.poll_seconds)
            if self._waiting:
                self._check()

    async def close(self) -> None:
        if self._poller is not None:
            self._poller.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._poller
        if self._listener is not None:
            fd = self._listener.fileno()
            if fd is not None:
                asyncio.get_running_loop().remove_reader(fd)
            self._listener.close()
