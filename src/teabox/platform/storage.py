"""Everything one process needs to reach a data directory's state.

Layout of a data directory::

    teabox.db      the database (SQLite, WAL)
    blobs/         payloads and platform-hosted files, by sha256
    staging/       workers' private per-task areas (see teabox.worker.staging)
    wake/          the sockets processes poke each other through (see teabox.platform.notify)
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from teabox.platform.blobs import BlobStore
from teabox.platform.db import Database
from teabox.platform.hosted import HostedFiles
from teabox.platform.notify import Notifier, PollingNotifier, SocketNotifier
from teabox.platform.queue import TaskQueue


@dataclass
class Storage:
    data_dir: Path
    database: Database
    blobs: BlobStore
    queue: TaskQueue
    hosted: HostedFiles
    notifier: Notifier

    @classmethod
    def open(cls, data_dir: Path, *, migrate: bool = True) -> Storage:
        """Open (and by default create or upgrade) the data directory ``data_dir``."""
        data_dir = Path(data_dir).resolve()
        database = Database.for_data_dir(data_dir)
        if migrate:
            database.migrate()
        blobs = BlobStore(data_dir / "blobs")
        notifier: Notifier = SocketNotifier(data_dir / "wake") if database.is_sqlite else PollingNotifier()
        return cls(data_dir, database, blobs, TaskQueue(database, notifier), HostedFiles(database, blobs), notifier)

    def close(self) -> None:
        self.notifier.close()
        self.database.dispose()
