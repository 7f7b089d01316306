"""The database: engine set-up, short read and write transactions, migrations.

SQLite is tuned for many small transactions from several processes (the
service and the worker pool): WAL so that readers never wait for the writer,
``synchronous=NORMAL`` (durable across a process crash, which is what WAL
needs), a busy timeout, and ``BEGIN IMMEDIATE`` for write transactions, so a
writer takes the lock up front and never fails mid-transaction on a lock it
cannot upgrade. PostgreSQL needs none of this and gets a plain engine.

The SQLite file is created 0600 before SQLite first opens it: SQLite gives its
WAL and shared-memory files the database file's mode, so all three stay the
operator's alone whatever the process umask.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from importlib import resources
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.orm import Session

from teabox.platform.file_keys import FileKeys
from teabox.platform.private_files import create_private_file, make_private

_WRITE_OPTION = "teabox_write"
AUTOCOMMIT_OPTION = "teabox_autocommit"
DB_FILE = "teabox.db"
_SQLITE_COMPANIONS = ("", "-wal", "-shm")


def sqlite_url(data_dir: Path) -> str:
    return f"sqlite:///{Path(data_dir).resolve() / DB_FILE}"


class Database:
    """One engine per process; ``read()`` and ``write()`` hand out short-lived sessions."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.is_sqlite = url.startswith("sqlite")
        self.engine = _create_engine(url)
        self._write_engine = self.engine.execution_options(**{_WRITE_OPTION: True})
        # SQLite's driver already leaves transactions to us (see _create_engine): skipping BEGIN is enough.
        autocommit = {AUTOCOMMIT_OPTION: True} if self.is_sqlite else {"isolation_level": "AUTOCOMMIT"}
        self._autocommit_engine = self.engine.execution_options(**autocommit)
        # SQLite has one writer at a time, and a writer that finds the lock taken sleeps in growing
        # steps (SQLite's busy handler) before it tries again. Threads of one process queue here
        # instead and start the moment the previous write ends; other processes still meet in SQLite.
        self._writers = threading.RLock() if self.is_sqlite else nullcontext()

    @classmethod
    def for_data_dir(cls, data_dir: Path) -> Database:
        """The SQLite database of an existing data directory, its files narrowed to 0600."""
        path = Path(data_dir).resolve() / DB_FILE
        try:
            os.close(create_private_file(path))
        except FileExistsError:
            pass
        for suffix in _SQLITE_COMPANIONS:
            make_private(path.with_name(path.name + suffix))
        return cls(sqlite_url(data_dir))

    @contextmanager
    def read(self) -> Iterator[Session]:
        with Session(self.engine, expire_on_commit=False) as session:
            yield session

    @contextmanager
    def write(self) -> Iterator[Session]:
        """A transaction that commits when the block ends normally and rolls back otherwise."""
        with self._writers, Session(self._write_engine, expire_on_commit=False) as session, session.begin():
            yield session

    @contextmanager
    def reading(self) -> Iterator[Connection]:
        """A Core connection for one read, for hot paths: an ORM session costs twice as much per query."""
        with self.engine.connect() as connection:
            yield connection

    @contextmanager
    def writing(self) -> Iterator[Connection]:
        """A Core write transaction that commits when the block ends normally and rolls back otherwise."""
        with self._writers, self._write_engine.begin() as connection:
            yield connection

    @contextmanager
    def autocommitting(self) -> Iterator[Connection]:
        """A connection on which every statement commits on its own, with no BEGIN or COMMIT around it.

        For writes that are one statement (the queue's claim, heartbeat and
        finish): on PostgreSQL each then sends the statement alone, not
        BEGIN, the statement and COMMIT (tests/platform/test_claim.py counts them).
        """
        with self._writers, self._autocommit_engine.connect() as connection:
            yield connection

    def migrate(self, file_keys: FileKeys) -> None:
        """Bring the schema to the newest revision shipped with the package (some revisions re-seal file keys)."""
        with self.engine.begin() as connection:
            config = alembic_config(self.url)
            config.attributes["connection"] = connection
            config.attributes["file_keys"] = file_keys
            command.upgrade(config, "head")

    def dispose(self) -> None:
        self.engine.dispose()


def alembic_config(url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(resources.files("teabox.platform") / "migrations"))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def _create_engine(url: str) -> Engine:
    if not url.startswith("sqlite"):
        return create_engine(url, pool_pre_ping=True)
    engine = create_engine(
        url, connect_args={"check_same_thread": False, "timeout": 30.0}, pool_size=8, max_overflow=16
    )

    @event.listens_for(engine, "connect")
    def _configure(dbapi_connection: Any, _record: Any) -> None:
        # Take transaction control away from the driver so that BEGIN is ours to choose.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _begin(connection: Any) -> None:
        options = connection.get_execution_options()
        if options.get(AUTOCOMMIT_OPTION, False):
            return  # each statement is its own transaction
        immediate = options.get(_WRITE_OPTION, False)
        # Straight to the driver: through SQLAlchemy's execution machinery BEGIN would cost as much as a query.
        connection.connection.driver_connection.execute("BEGIN IMMEDIATE" if immediate else "BEGIN")

    return engine
