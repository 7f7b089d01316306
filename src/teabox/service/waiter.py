"""Long-poll support: wake waiting requests when their task ends, whoever ended it.

Workers run in other processes (and later on other machines), so an
in-memory event would miss their results. Whoever ends a task pokes the
``results`` wake-up after committing (see :mod:`teabox.platform.notify`); on
each poke one watcher asks the database which of the awaited tasks have
ended: one indexed read however many requests wait, run in a thread so that
the event loop never waits for the database. While someone waits it also asks
every ``poll_seconds`` on its own, in case a poke never comes.

Waiting writes nothing and holds no thread. The number of waits is capped in
all and per user, since each holds a connection open.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import Counter
from collections.abc import Callable, Iterator

from starlette.concurrency import run_in_threadpool

from teabox.platform.errors import TooManyRequests, Unavailable
from teabox.platform.notify import Listener, Notifier, Topic

log = logging.getLogger(__name__)


class ResultWaiter:
    def __init__(
        self,
        ended_tasks: Callable[[list[str]], set[str]],
        notifier: Notifier,
        *,
        max_waits: int,
        max_waits_per_user: int,
    ) -> None:
        self._ended_tasks = ended_tasks
        self._notifier = notifier
        self._max_waits, self._max_waits_per_user = max_waits, max_waits_per_user
        self._listener: Listener | None = None
        self._waiting: dict[str, list[asyncio.Future[None]]] = {}
        self._per_user: Counter[str] = Counter()
        self._total = 0
        self._poked = asyncio.Event()
        self._pokes = 0  # wake-ups received so far: see mark()
        self._watcher: asyncio.Task[None] | None = None

    def start(self) -> None:
        """Subscribe to the wake-ups; call it on the event loop that will serve the waits."""
        self._listener = self._notifier.listen(Topic.RESULTS)
        fd = self._listener.fileno()
        if fd is not None:
            asyncio.get_running_loop().add_reader(fd, self._woken)

    @contextlib.contextmanager
    def slot(self, user_id: str) -> Iterator[None]:
        """Hold one of the waits allowed; refused with 503 when the service is full, 429 when the user is."""
        if self._total >= self._max_waits:
            raise Unavailable(
                f"the service already has {self._max_waits} requests waiting for results; "
                "try again, or ask with timeout 0",
                1,
                "too_many_waits",
            )
        if self._per_user[user_id] >= self._max_waits_per_user:
            raise TooManyRequests(
                f"you already have {self._max_waits_per_user} requests waiting for results", 1, "too_many_waits"
            )
        self._per_user[user_id] += 1
        self._total += 1
        try:
            yield
        finally:
            self._total -= 1
            self._per_user[user_id] -= 1
            if not self._per_user[user_id]:
                del self._per_user[user_id]

    def mark(self) -> int:
        """Take a mark before looking at a task; pass it to :meth:`expect` if the task has not ended."""
        return self._pokes

    def expect(self, task_id: str, mark: int) -> asyncio.Future[None]:
        """A future resolved when ``task_id`` ends; give it back with :meth:`forget`.

        A task that ended after the caller's look sent its wake-up after ``mark`` was taken: if any
        came since, the watcher looks again now, so the look and the wait together miss no ending.
        """
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiting.setdefault(task_id, []).append(future)
        if self._pokes != mark:
            self._poked.set()
        if self._watcher is None or self._watcher.done():
            self._watcher = asyncio.create_task(self._watch())
        return future

    @staticmethod
    async def wait(future: asyncio.Future[None], timeout: float) -> bool:
        """True as soon as the task has ended, False if ``timeout`` seconds pass first."""
        try:
            await asyncio.wait_for(asyncio.shield(future), timeout)
            return True
        except TimeoutError:
            return False

    def forget(self, task_id: str, future: asyncio.Future[None]) -> None:
        waiters = self._waiting.get(task_id, [])
        if future in waiters:
            waiters.remove(future)
        if not waiters:
            self._waiting.pop(task_id, None)

    def _woken(self) -> None:
        assert self._listener is not None
        self._listener.drain()  # pokes after this point make the socket readable again
        self._pokes += 1
        self._poked.set()

    async def _watch(self) -> None:
        assert self._listener is not None
        while self._waiting:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._poked.wait(), self._listener.poll_seconds)
            self._poked.clear()
            if self._waiting:
                await self._check()

    async def _check(self) -> None:
        try:
            ended = await run_in_threadpool(self._ended_tasks, list(self._waiting))
        except Exception:  # the next poke or poll asks again
            log.exception("looking up ended tasks failed")
            return
        for task_id in ended:
            for future in self._waiting.pop(task_id, []):
                if not future.done():
                    future.set_result(None)

    async def close(self) -> None:
        if self._watcher is not None:
            self._watcher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._watcher
        if self._listener is not None:
            fd = self._listener.fileno()
            if fd is not None:
                asyncio.get_running_loop().remove_reader(fd)
            self._listener.close()
