"""Long-poll support: wake waiting requests when their task ends, whoever ended it.

Workers run in other processes (and later on other machines), so an
in-memory event would miss their results. Instead one poller per service
process asks the database, every few milliseconds and only while someone is
waiting, which of the awaited tasks have ended: one indexed query however
many requests wait.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable

POLL_SECONDS = 0.002


class ResultWaiter:
    def __init__(self, ended_tasks: Callable[[list[str]], set[str]], interval: float = POLL_SECONDS) -> None:
        self._ended_tasks = ended_tasks
        self._interval = interval
        self._waiting: dict[str, list[asyncio.Future[None]]] = {}
        self._poller: asyncio.Task[None] | None = None

    async def wait(self, task_id: str, timeout: float) -> bool:
        """Return True as soon as ``task_id`` has ended, False if ``timeout`` seconds pass first."""
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

    async def _poll(self) -> None:
        while self._waiting:
            for task_id in self._ended_tasks(list(self._waiting)):
                for future in self._waiting.pop(task_id, []):
                    if not future.done():
                        future.set_result(None)
            await asyncio.sleep(self._interval)

    async def close(self) -> None:
        if self._poller is not None:
            self._poller.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._poller
