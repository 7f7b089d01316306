"""Counting what a database engine sends and waits for, with SQLAlchemy's events.

A round trip is a statement (``before_cursor_execute``), a BEGIN, COMMIT or
ROLLBACK on a connection that runs transactions (autocommit connections send
none: psycopg's autocommit and teabox's SQLite autocommit option skip them),
or the liveness check a pre-pinging pool makes at each checkout. On SQLite
nothing crosses a network; its count is the calls into the library.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import event

from teabox.platform.db import AUTOCOMMIT_OPTION, Database


def _autocommit(connection: Any) -> bool:
    options = connection.get_execution_options()
    return bool(options.get(AUTOCOMMIT_OPTION)) or options.get("isolation_level") == "AUTOCOMMIT"


class RoundTrips:
    """``with RoundTrips(database).counting() as trips: ...``; then ``trips.count``."""

    def __init__(self, database: Database) -> None:
        self.engine = database.engine
        self.count = 0
        self.pings = bool(getattr(self.engine.pool, "_pre_ping", False))

    def _statement(self, *_: Any) -> None:
        self.count += 1

    def _transaction(self, connection: Any, *_: Any) -> None:
        if not _autocommit(connection):
            self.count += 1

    def _checkout(self, *_: Any) -> None:
        if self.pings:
            self.count += 1

    @contextmanager
    def counting(self) -> Iterator[RoundTrips]:
        self.count = 0
        hooks = [
            (self.engine, "before_cursor_execute", self._statement),
            (self.engine, "begin", self._transaction),
            (self.engine, "commit", self._transaction),
            (self.engine, "rollback", self._transaction),
            (self.engine.pool, "checkout", self._checkout),
        ]
        for target, name, hook in hooks:
            event.listen(target, name, hook)
        try:
            yield self
        finally:
            for target, name, hook in hooks:
                event.remove(target, name, hook)
