"""The few threads that run the service's database work, so that the event loop never waits for it.

Each call's database work is short and holds the GIL for most of its
duration, so many threads gain nothing: they only take the GIL from one
another (and from the event loop), each switch a futex wake-up and a context
switch. A small fixed pool keeps as many calls in flight as the database can
serve, and queues the rest. Password hashing (which releases the GIL) and
uploads run elsewhere.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

T = TypeVar("T")

DB_THREADS = 2


class DatabaseThreads:
    def __init__(self, count: int = DB_THREADS) -> None:
        self._pool = ThreadPoolExecutor(count, thread_name_prefix="teabox-db")

    async def run(self, function: Callable[..., T], *args: Any) -> T:
        """``function(*args)`` on one of the threads."""
        return await asyncio.get_running_loop().run_in_executor(self._pool, functools.partial(function, *args))

    def close(self) -> None:
        self._pool.shutdown(wait=True)
