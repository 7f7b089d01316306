"""Long-poll support: wake waiting requests when their task ends, whoever ended it.

Workers run in other processes (and later on other machines), so an
in-memory event would miss their results. Whoever ends a task pokes the
``results`` wake-up after committing (see :mod:`teabox.platform.notify`); on
each poke one watcher asks the database which of the awaited tasks have
ended and hands each ended wait its answer: one indexed read however many
requests wait, and one audit write for all the waits it ends, run off the
event loop (``ended_results`` is awaited) so that it never waits for the database. While someone waits it
also asks every ``poll_seconds`` on its own, in case a poke never comes.

Waiting writes nothing and holds no thread. The number of waits is capped in
all and per user, since each holds a connection open.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import Counter
from collections.abc import Awaitable, Callable, Iterator
from typing import Any

from teabox.platform.context import Actor
from teabox.platform.errors import TooManyRequests, Unavailable
from teabox.platform.notify import Listener, Notifier, Topic

log = logging.getLogger(__name__)

Answer = dict[str, Any]
# The answers for waits (task, viewer) whose tasks have ended, None for the others; each answer audited.
# Awaited: it runs the database work off the event loop.
EndedResults = Callable[[list[tuple[str, Actor]]], Awaitable[list[Answer | None]]]


class ResultWaiter:
    def __init__(
        self,
        ended_results: EndedResults,
        notifier: Notifier,
        *,
        max_waits: int,
        max_waits_per_user: int,
    ) -> None:
        self._ended_results = ended_results
        self._notifier = notifier
        self._max_waits, self._max_waits_per_user = max_waits, max_waits_per_user
        self._listener: Listener | None = None
        self._waiting: dict[str, list[tuple[asyncio.Future[Answer], Actor]]] = {}
        self._per_user: Counter[str] = Counter()
        self._total = 0
        self._poked = asyncio.Event()
        self._pokes = 0  # wake-ups received so far: see mark()
        self._watcher: asyncio.Task[None] | None = None
        # The waits the watcher is answering now, and a future done when it has: see wait().
        self._checking: set[asyncio.Future[Answer]] = set()
        self._checked: asyncio.Future[None] | None = None

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

    def expect(self, task_id: str, mark: int, viewer: Actor) -> asyncio.Future[Answer]:
        """A future given ``viewer``'s answer when ``task_id`` ends; give it back with :meth:`forget`.

        A task that ended after the caller's look sent its wake-up after ``mark`` was taken: if any
        came since, the watcher looks again now, so the look and the wait together miss no ending.
        """
        future: asyncio.Future[Answer] = asyncio.get_running_loop().create_future()
        self._waiting.setdefault(task_id, []).append((future, viewer))
        if self._pokes != mark:
            self._poked.set()
        if self._watcher is None or self._watcher.done():
            self._watcher = asyncio.create_task(self._watch())
        return future

    async def wait(self, future: asyncio.Future[Answer], timeout: float) -> Answer | None:
        """The answer as soon as the task has ended, None if ``timeout`` seconds pass first."""
        try:
            return await asyncio.wait_for(asyncio.shield(future), timeout)
        except TimeoutError:
            if future in self._checking and self._checked is not None:
                # The watcher may be writing this wait's audit entry: take the answer it was audited with.
                await asyncio.shield(self._checked)
            return future.result() if future.done() else None

    def forget(self, task_id: str, future: asyncio.Future[Answer]) -> None:
        waiters = [wait for wait in self._waiting.get(task_id, []) if wait[0] is not future]
        if waiters:
            self._waiting[task_id] = waiters
        else:
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
        waits = [(task_id, future, viewer) for task_id, waits in self._waiting.items() for future, viewer in waits]
        self._checking = {future for _, future, _ in waits}
        self._checked = asyncio.get_running_loop().create_future()
        try:
            answers = await self._ended_results([(task_id, viewer) for task_id, _, viewer in waits])
        except Exception:  # the next poke or poll asks again
            log.exception("looking up ended tasks failed")
            return
        finally:
            self._checking = set()
            self._checked.set_result(None)
        for (task_id, future, _), answer in zip(waits, answers, strict=True):
            if answer is not None:
                self.forget(task_id, future)
                if not future.done():
                    future.set_result(answer)

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
