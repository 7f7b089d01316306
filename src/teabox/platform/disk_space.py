"""A full data directory: how to recognise it, what to answer, and when it is over.

A write that finds no room fails deep down as an ``OSError`` (``ENOSPC`` or
``EDQUOT``) from a blob write, or as SQLite's ``SQLITE_FULL`` through
SQLAlchemy. :func:`is_full_error` recognises both wherever they are wrapped,
so that the service answers 507 ``storage_full`` ("the data directory is
full") instead of a generic 500. :class:`DiskSpace` remembers that the
directory is full, for the health check, and logs the change once each way:
when a write first finds no room, and when space has returned (a successful
write, or the periodic :meth:`DiskSpace.check` finding room again). Nothing
needs restarting: every write simply tries again.
"""

from __future__ import annotations

import errno
import logging
import os
import sqlite3
import threading
from pathlib import Path
from typing import Any

from teabox.platform.errors import PlatformError

log = logging.getLogger("teabox.storage")

_FULL_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT})
_SQLITE_FULL = 13  # the primary result code; extended codes keep it in their low byte
# Free space below which the directory still counts as full after a write failed for lack of room:
# a little room is not enough for SQLite to grow its write-ahead log by a checkpoint's worth.
ROOM_AGAIN_BYTES = 4 * 1024 * 1024


class StorageFull(PlatformError):
    """A write found no room in the data directory; the same request succeeds once space returns."""

    status, default_code = 507, "storage_full"


def is_full_error(exc: BaseException) -> bool:
    """Whether ``exc`` (or what it wraps) is a write that failed for lack of space."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, StorageFull):
            return True
        if isinstance(current, OSError) and current.errno in _FULL_ERRNOS:
            return True
        if isinstance(current, sqlite3.Error) and (getattr(current, "sqlite_errorcode", 0) & 0xFF) == _SQLITE_FULL:
            return True
        original: Any = getattr(current, "orig", None)  # SQLAlchemy's DBAPIError keeps the driver's error here
        current = original if isinstance(original, BaseException) else (current.__cause__ or current.__context__)
    return False


class DiskSpace:
    """Whether the data directory is full right now, as the last writes found it; safe from any thread."""

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = Path(data_dir)
        self._lock = threading.Lock()
        self._full = False

    @property
    def full(self) -> bool:
        return self._full

    def refusal(self) -> StorageFull:
        return StorageFull(
            f"the data directory is full: nothing more can be written to {self.data_dir} until space is freed there; "
            "retry later"
        )

    def saw_full(self) -> StorageFull:
        """Note a write that found no room (logged once until space returns); returns the refusal to raise."""
        with self._lock:
            was_full, self._full = self._full, True
        if not was_full:
            log.error(
                "the data directory %s is full: writes are refused (507 storage_full) until space is freed there; "
                "teabox carries on by itself once it is",
                self.data_dir,
            )
        return self.refusal()

    def saw_write(self) -> None:
        """Note a write that succeeded: if the directory was full, it is not any more."""
        if self._full:
            self._recovered("a write succeeded")

    def check(self) -> None:
        """The periodic look while full: enough free space again counts as recovered."""
        if not self._full:
            return
        free = self.free_bytes()
        if free >= ROOM_AGAIN_BYTES:
            self._recovered(f"{free} bytes are free")

    def free_bytes(self) -> int:
        stats = os.statvfs(self.data_dir)
        return stats.f_bavail * stats.f_frsize

    def report(self) -> dict[str, Any]:
        """The health check's view of the data directory."""
        return {"full": self._full, "free_bytes": self.free_bytes()}

    def _recovered(self, why: str) -> None:
        with self._lock:
            was_full, self._full = self._full, False
        if was_full:
            log.warning("the data directory %s has room again (%s): writes are accepted", self.data_dir, why)
