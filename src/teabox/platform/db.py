"""The database: engine set-up, short read and write transactions, migrations.

SQLite is tuned for many small transactions from several processes (the
service and the worker pool): WAL so that readers never wait for the writer,
``synchronous=NORMAL`` (durable across a process crash, which is what WAL
needs), a busy timeout, and ``BEGIN IMMEDIATE`` for write transactions, so a
writer takes the lock up front and never fails mid-transaction on a lock it
cannot upgrade. PostgreSQL needs none of this; its engine gets a bounded pool
(several servers and workers share the server's ``max_connections``), no
pre-ping round trip per checkout (a connection that broke is dropped, with the
rest of the pool, when a statement on it fails; ``pool_recycle`` retires old
ones before a firewall or server timeout does), and migrations run under an
advisory lock, so that servers starting together migrate one after another.

The SQLite file is created 0600 before SQLite first opens it: SQLite gives its
WAL and shared-memory files the database file's mode, so all three stay the
operator's alone whatever the process umask.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine, create_engine, event, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from teabox.errors import TeaboxError
from teabox.platform.database_url import resolve_database_url
from teabox.platform.file_keys import FileKeys
from teabox.platform.private_files import create_private_file, make_private

_WRITE_OPTION = "teabox_write"
AUTOCOMMIT_OPTION = "teabox_autocommit"
_SQLITE_COMPANIONS = ("", "-wal", "-shm")
# pg_advisory_xact_lock's key for migrations: any constant other software is unlikely to pick.
MIGRATION_LOCK_KEY = 0x7EAB0C5_0000_0001
# Seconds after which a PostgreSQL connection is replaced rather than reused (below common idle timeouts).
POOL_RECYCLE_SECONDS = 600


@dataclass(frozen=True)
class PoolSize:
    """PostgreSQL connections one process keeps open (``size``) and may open beyond that under load (``overflow``).

    SQLite's engine keeps its own sizes: its connections are file handles, not server processes.
    """

    size: int
    overflow: int


# An API server answers on a thread pool; a worker process needs one connection for its loop and one for its
# heartbeats. N servers and M worker processes use at most N × 16 + M × 3 of PostgreSQL's max_connections.
SERVER_POOL = PoolSize(8, 8)
WORKER_POOL = PoolSize(2, 1)


class SchemaOutdated(TeaboxError):
    """The database's schema is older than this teabox's (or absent), and this process does not migrate."""


class Database:
    """One engine per process; ``read()`` and ``write()`` hand out short-lived sessions."""

    def __init__(self, url: str, pool: PoolSize = SERVER_POOL) -> None:
        self.url = url
        self.is_sqlite = url.startswith("sqlite")
        self.engine = _create_engine(url, pool)
        self._write_engine = self.engine.execution_options(**{_WRITE_OPTION: True})
        # SQLite's driver already leaves transactions to us (see _create_engine): skipping BEGIN is enough.
        autocommit = {AUTOCOMMIT_OPTION: True} if self.is_sqlite else {"isolation_level": "AUTOCOMMIT"}
        self._autocommit_engine = self.engine.execution_options(**autocommit)
        # SQLite has one writer at a time, and a writer that finds the lock taken sleeps in growing
        # steps (SQLite's busy handler) before it tries again. Threads of one process queue here
        # instead and start the moment the previous write ends; other processes still meet in SQLite.
        self._writers = threading.RLock() if self.is_sqlite else nullcontext()

    @classmethod
    def for_data_dir(cls, data_dir: Path, url: str | None = None, pool: PoolSize = SERVER_POOL) -> Database:
        """The database at ``url`` (``--database``; by default the data directory's SQLite file).

        A SQLite file is created 0600 and its companions narrowed to 0600 before it is opened.
        Raises DatabaseUrlError for a URL teabox cannot use.
        """
        resolved = resolve_database_url(url, data_dir)
        path = make_url(resolved).database if resolved.startswith("sqlite") else None
        if path and path != ":memory:":
            _make_sqlite_private(Path(path))
        return cls(resolved, pool)

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
        """Bring the schema to the newest revision shipped with the package (some revisions re-seal file keys).

        One process at a time: SQLite's ``BEGIN IMMEDIATE`` and PostgreSQL's transaction-scoped advisory
        lock make a concurrent migrator wait for this one to commit, after which it finds the schema
        current (PostgreSQL's DDL is transactional) and does nothing.
        """
        with self._write_engine.begin() as connection:
            if not self.is_sqlite:
                connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK_KEY})
            config = alembic_config(self.url)
            config.attributes["connection"] = connection
            config.attributes["file_keys"] = file_keys
            command.upgrade(config, "head")

    def check_schema(self) -> None:
        """Raise SchemaOutdated unless the schema is the newest this teabox knows (or one newer than it knows).

        For processes that never migrate (workers, tools on a running platform): a newer schema is
        what a rolling upgrade leaves while older processes still run, so only an older one is refused.
        """
        scripts = ScriptDirectory.from_config(alembic_config(self.url))
        head = scripts.get_current_head()
        with self.engine.connect() as connection:
            current = MigrationContext.configure(connection).get_current_revision()
        known = {script.revision for script in scripts.walk_revisions()}
        if current == head or (current is not None and current not in known):
            return
        raise SchemaOutdated(
            f"the database {self.display_url} is at schema revision {current or '(none: it is empty)'}, "
            f"but this teabox needs {head}: run `teabox admin migrate` with the same --database first"
        )

    @property
    def display_url(self) -> str:
        """The URL without its password, for messages."""
        return make_url(self.url).render_as_string(hide_password=True)

    def dispose(self) -> None:
        self.engine.dispose()


def _make_sqlite_private(path: Path) -> None:
    try:
        os.close(create_private_file(path))
    except FileExistsError:
        pass
    for suffix in _SQLITE_COMPANIONS:
        make_private(path.with_name(path.name + suffix))


def alembic_config(url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(resources.files("teabox.platform") / "migrations"))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def _create_engine(url: str, pool: PoolSize) -> Engine:
    if not url.startswith("sqlite"):
        return create_engine(
            url,
            pool_size=pool.size,
            max_overflow=pool.overflow,
            pool_recycle=POOL_RECYCLE_SECONDS,
            connect_args={"connect_timeout": 10, "application_name": "teabox"},
        )
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
