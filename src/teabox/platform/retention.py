"""Retention: ended tasks and audit entries older than the operator's limits leave the database, archived first.

Nothing is removed silently. Each run writes the rows it is about to remove
to a JSON-lines archive in the data directory (``archive/``, 0700, files
0600), flushed to disk before the rows are deleted in the same transaction;
if the archive cannot be written, nothing is deleted. The run then leaves an
audit entry (action ``retention``) naming what it removed and where it went.

What is kept, whatever the age: tasks that have not ended, whose canceled
run is still held by a worker, or whose unrecorded outputs still wait for
their withdrawal (:mod:`teabox.worker.withdrawal`); and every file record. An output's burn marks
(its ``cmac`` once written, its ``write_task`` once a write began) live on the
file record, not on the task, so an output of a removed task stays
write-once: it can never be bound to another task and encrypt a second
plaintext under the same (key, IV).

Rows go in batches, one short write transaction each, so that the workers'
lease renewals never wait long for the write lock.
"""

from __future__ import annotations

import json
import os
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

from sqlalchemy import BindParameter, Connection, Table, bindparam, delete, exists, func, or_, select

from teabox.platform import audit
from teabox.platform.blobs import BlobStore
from teabox.platform.db import Database
from teabox.platform.models import (
    AuditEntry,
    DataFile,
    Function,
    HostedFile,
    PayloadUpload,
    Task,
    TaskData,
    TaskParticipant,
)
from teabox.platform.private_files import create_private_file, private_dir
from teabox.platform.states import ENDED, TaskStatus
from teabox.platform.storage import Storage

ARCHIVE_DIR = "archive"
BATCH = 500
DAY = 86400.0

_tasks: Table = Task.__table__
_participants: Table = TaskParticipant.__table__
_bindings: Table = TaskData.__table__
_audit: Table = AuditEntry.__table__
_files: Table = DataFile.__table__
_IDS: BindParameter[list[str]] = bindparam("ids", expanding=True)


@dataclass
class Collected:
    """What one run removed, and the archives that hold it."""

    tasks: int = 0
    audit_entries: int = 0
    archives: list[Path] = field(default_factory=list)
    blobs: int = 0

    def summary(self) -> str:
        where = ", ".join(str(path) for path in self.archives) or "no archive needed"
        unreferenced = f"; removed {self.blobs} blobs nothing refers to" if self.blobs else ""
        removed = f"removed {self.tasks} ended tasks and {self.audit_entries} audit entries"
        return f"{removed}; archived to {where}{unreferenced}"


def collect(
    storage: Storage,
    *,
    tasks_older_than_days: float | None,
    audit_older_than_days: float | None,
    blobs_older_than_days: float | None = None,
    now: float | None = None,
) -> Collected:
    """Remove ended tasks (by when they ended), audit entries and unreferenced blobs older than the given
    ages; None keeps them all."""
    database, data_dir = storage.database, storage.data_dir
    now = time.time() if now is None else now
    collected = Collected()
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(now))
    if tasks_older_than_days is not None:
        with _Archive(Path(data_dir), f"tasks-{stamp}-{uuid.uuid4().hex[:8]}.jsonl") as archive:
            collected.tasks = _remove_tasks(database, archive, now - tasks_older_than_days * DAY)
        collected.archives += archive.written()
    if audit_older_than_days is not None:
        with _Archive(Path(data_dir), f"audit-{stamp}-{uuid.uuid4().hex[:8]}.jsonl") as archive:
            collected.audit_entries = _remove_audit(database, archive, now - audit_older_than_days * DAY)
        collected.archives += archive.written()
    if blobs_older_than_days is not None:
        collected.blobs = remove_unreferenced_blobs(database, storage.blobs, blobs_older_than_days)
    if collected.tasks or collected.audit_entries or collected.blobs:
        with database.write() as session:
            object_id = ",".join(path.name for path in collected.archives)
            audit.record(session, time.time(), None, "retention", object_id, "ok", collected.summary())
    return collected


# Every column that names a blob: a blob none of them names is debris (a dead attempt's hosted output, a
# withdrawn one, an upload whose registration never came).
_BLOB_REFERENCES = (HostedFile.sha256, Function.payload_sha256, PayloadUpload.sha256, Task.payload_sha256)


def remove_unreferenced_blobs(database: Database, blobs: BlobStore, older_than_days: float) -> int:
    """Remove blobs nothing refers to and nobody wrote for ``older_than_days``; returns how many.

    The age keeps a blob that is being registered (written, its row not yet
    committed: an upload, a hosted output between staging and commit) from
    being taken; a blob written again is young again.
    """
    candidates = blobs.older_than(older_than_days * DAY)
    removed = 0
    for start in range(0, len(candidates), BATCH):
        batch = candidates[start : start + BATCH]
        with database.reading() as connection:
            referenced: set[str] = set()
            for column in _BLOB_REFERENCES:
                referenced.update(connection.scalars(select(column).where(column.in_(batch))))
        for sha256 in batch:
            if sha256 not in referenced:
                blobs.remove(sha256)
                removed += 1
    return removed


def _remove_tasks(database: Database, archive: _Archive, cutoff: float) -> int:
    ended = [status.value for status in ENDED]
    _begun = exists().where(
        _bindings.c.task_id == _tasks.c.id,
        _bindings.c.direction == "output",
        _files.c.id == _bindings.c.file_id,
        _files.c.write_task == _tasks.c.id,
        _files.c.cmac.is_(None),
    )
    old = (
        select(_tasks)
        .where(
            _tasks.c.status.in_(ended),
            _tasks.c.worker_id.is_(None),  # a canceled run still held by a worker is not over yet
            func.coalesce(_tasks.c.ended_at, _tasks.c.updated_at) < cutoff,
            # What its dead attempts published is withdrawn first (teabox.worker.withdrawal), using its record.
            or_(_tasks.c.status == TaskStatus.FINISHED.value, _tasks.c.outputs_withdrawn_at.is_not(None), ~_begun),
        )
        .order_by(_tasks.c.id)
        .limit(BATCH)
    )
    removed = 0
    while True:
        with database.writing() as connection:
            rows = [dict(row) for row in connection.execute(old).mappings()]
            if not rows:
                return removed
            ids = [row["id"] for row in rows]
            participants = _grouped(connection, _participants, ids)
            bindings = _grouped(connection, _bindings, ids)
            archive.write(
                [
                    row | {"participants": participants.get(row["id"], []), "data": bindings.get(row["id"], [])}
                    for row in rows
                ]
            )
            for table in (_participants, _bindings, _tasks):
                key = table.c.id if table is _tasks else table.c.task_id
                connection.execute(delete(table).where(key.in_(_IDS)), {"ids": ids})
        removed += len(rows)


def _grouped(connection: Connection, table: Table, ids: list[str]) -> dict[str, list[dict[str, Any]]]:
    grouped: dict[str, list[dict[str, Any]]] = {}
    for row in connection.execute(select(table).where(table.c.task_id.in_(_IDS)), {"ids": ids}).mappings():
        entry = dict(row)
        grouped.setdefault(entry.pop("task_id"), []).append(entry)
    return grouped


def _remove_audit(database: Database, archive: _Archive, cutoff: float) -> int:
    old = select(_audit).where(_audit.c.timestamp < cutoff).order_by(_audit.c.id).limit(BATCH)
    removed = 0
    while True:
        with database.writing() as connection:
            rows = [dict(row) for row in connection.execute(old).mappings()]
            if not rows:
                return removed
            archive.write(rows)
            connection.execute(delete(_audit).where(_audit.c.id.in_(_IDS)), {"ids": [row["id"] for row in rows]})
        removed += len(rows)


class _Archive:
    """A JSON-lines file under ``<data dir>/archive``, created on the first write, durable after each."""

    def __init__(self, data_dir: Path, name: str) -> None:
        self._directory = data_dir / ARCHIVE_DIR
        self._name = name
        self._file: BinaryIO | None = None

    def write(self, rows: list[dict[str, Any]]) -> None:
        if self._file is None:
            private_dir(self._directory)
            self._file = os.fdopen(create_private_file(self._directory / self._name), "wb")
        self._file.write(b"".join(json.dumps(row, default=str).encode() + b"\n" for row in rows))
        self._file.flush()
        os.fsync(self._file.fileno())  # on disk before the rows it holds are deleted

    def written(self) -> list[Path]:
        return [] if self._file is None else [self._directory / self._name]

    def __enter__(self) -> _Archive:
        return self

    def __exit__(self, *exc: object) -> None:
        if self._file is not None:
            self._file.close()
