"""Everything one process needs to reach a data directory's state.

Layout of a data directory::

    teabox.db      the database (SQLite, WAL), unless ``--database`` names another (PostgreSQL: then
                   every process on it needs the same platform key); its file keys are sealed (see
                   teabox.platform.file_keys)
    platform.key   the platform key that seals them, unless TEABOX_PLATFORM_KEY gives it
    blobs/         payloads and platform-hosted files, by sha256 (unless --blobs names another store)
    staging/       workers' private per-task areas (see teabox.worker.staging)
    wake/          the sockets processes poke each other through (see teabox.platform.notify), and the
                   lock the workers take turns to claim with (see teabox.worker.direct)

The directory and every directory in it are 0700, the database, its WAL and
shared-memory files, the key file and every blob 0600, whatever the umask;
opening a data directory that other users may enter or read is refused (see
teabox.platform.private_files), so what else lies inside (a worker's
transient staging files, the wake-up sockets) is out of their reach too.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import select

from teabox.platform.blob_location import BlobLocation
from teabox.platform.blobs import BlobStore
from teabox.platform.db import SERVER_POOL, Database, PoolSize
from teabox.platform.disk_space import DiskSpace
from teabox.platform.file_keys import ENV_VAR, KEY_FILE, FileKeys, PlatformKeyError
from teabox.platform.hosted import HostedFiles
from teabox.platform.models import DataFile
from teabox.platform.notify import Notifier, SocketNotifier
from teabox.platform.private_files import prepare_data_dir
from teabox.platform.queue import TaskQueue

WAKE_DIR = "wake"


@dataclass
class Storage:
    data_dir: Path
    database: Database
    blobs: BlobStore
    queue: TaskQueue
    hosted: HostedFiles
    notifier: Notifier
    file_keys: FileKeys
    disk: DiskSpace = field(init=False)

    def __post_init__(self) -> None:
        self.disk = self.blobs.disk

    @classmethod
    def open(
        cls,
        data_dir: Path,
        *,
        migrate: bool = True,
        database_url: str | None = None,
        pool: PoolSize = SERVER_POOL,
        blobs: BlobLocation | None = None,
    ) -> Storage:
        """Open (and by default create or upgrade) the data directory ``data_dir``.

        ``database_url`` is ``--database`` (None: the data directory's SQLite file). Raises
        DataDirExposed if other users may read the directory, DatabaseUrlError for a URL
        teabox cannot use, SchemaOutdated if ``migrate`` is off and the schema is older than
        this teabox's, and PlatformKeyError if the platform key cannot open the database's
        keys: all before anything is served; BlobLocationError if ``blobs`` names no usable store.
        """
        data_dir = prepare_data_dir(Path(data_dir).resolve())
        store = (blobs or BlobLocation()).open(data_dir, DiskSpace(data_dir))
        file_keys = FileKeys.load(data_dir)
        database = Database.for_data_dir(data_dir, database_url, pool)
        try:
            if migrate:
                database.migrate(file_keys)
            else:
                database.check_schema()
            _check_platform_key(data_dir, database, file_keys)
            notifier = notifier_for(database, data_dir)
        except BaseException:
            database.dispose()  # a refused start leaves no connection behind for the garbage collector
            raise
        queue = TaskQueue(database, file_keys, notifier)
        return cls(data_dir, database, store, queue, HostedFiles(database, store), notifier, file_keys)

    def close(self) -> None:
        self.notifier.close()
        self.database.dispose()


def notifier_for(database: Database, data_dir: Path) -> Notifier:
    """SQLite's processes share a machine and poke each other through sockets; PostgreSQL's share LISTEN/NOTIFY."""
    if database.is_sqlite:
        return SocketNotifier(data_dir / WAKE_DIR)
    from teabox.platform.notify_postgres import PostgresNotifier  # psycopg comes with the postgres extra

    return PostgresNotifier(database.engine)


def _check_platform_key(data_dir: Path, database: Database, file_keys: FileKeys) -> None:
    """Open one sealed key now, so that a wrong platform key stops the start rather than every task.

    A key file this start had to create cannot open keys sealed before: the
    old file was lost. The new one is removed again, so that restoring the
    old one from a backup is all it takes.
    """
    with database.reading() as connection:
        row = connection.execute(select(DataFile.id, DataFile.sealed_key).limit(1)).first()
    if row is None:
        return
    try:
        file_keys.open(row.id, row.sealed_key)
    except PlatformKeyError:
        if not file_keys.new:
            raise
        key_file = data_dir / KEY_FILE
        key_file.unlink()
        raise PlatformKeyError(
            f"{key_file} is missing, but the database holds file keys sealed with it: "
            f"restore it from a backup (or give its key in {ENV_VAR})"
        ) from None
