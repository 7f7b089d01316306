"""A cheap "may there be new work?" for idle workers.

Trying to claim is a write transaction; doing it every few milliseconds from
every idle worker would cost a good part of a core and contend with the
service for SQLite's write lock. SQLite's ``PRAGMA data_version`` changes
whenever another connection commits, and reading it costs a few
microseconds, so an idle worker looks at it every couple of milliseconds and
claims only after something changed (a task staged, a lease expired, a task
finished), and at least once a second regardless. On other databases every
look says "changed" and the loop falls back to polling the queue (PostgreSQL
could use LISTEN/NOTIFY here).
"""

from __future__ import annotations

import sqlite3
import threading
import time
from itertools import count

from teabox.platform.db import Database


class QueueBell:
    """Tells an idle worker when the database changed since it last looked."""

    def __init__(self, database: Database, *, poll_seconds: float, fallback_seconds: float = 1.0) -> None:
        self.poll_seconds, self.fallback_seconds = poll_seconds, fallback_seconds
        self._connection: sqlite3.Connection | None = None
        self._ticks = count()
        path = database.engine.url.database
        if database.is_sqlite and path:
            self._connection = sqlite3.connect(f"file:{path}?mode=ro", uri=True, isolation_level=None, check_same_thread=False)

    def mark(self) -> int:
        """The database's change counter now; take it *before* looking at the queue."""
        if self._connection is None:
            return next(self._ticks)
        return int(self._connection.execute("PRAGMA data_version").fetchone()[0])

    def wait(self, mark: int, stop: threading.Event) -> None:
        """Return once the database changed after ``mark``, ``stop`` is set, or the fallback time passed."""
        deadline = time.monotonic() + self.fallback_seconds
        while not stop.wait(self.poll_seconds):
            if self.mark() != mark or time.monotonic() >= deadline:
                return

    def close(self) -> None:
        if self._connection is not None:
            self._connection.close()
