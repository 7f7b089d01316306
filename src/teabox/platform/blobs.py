"""Content-addressed blobs: payloads and platform-hosted files, and the local-disk store (the default).

:class:`BlobStore` is what the platform, the service and the workers use; two
stores implement it with the same behaviour: :class:`LocalBlobStore` here, a
folder of the data directory, and :class:`teabox.platform.blobs_s3.S3BlobStore`,
a bucket of an S3-API object store (``--blobs s3://bucket/prefix``).

A blob's name is the sha256 of its bytes, so writing the same bytes twice
stores them once, a reader can check what it got, and a blob that nothing
refers to yet (an upload refused half-way, an output whose task then failed)
is harmless. Writes go to a temporary file that is renamed into place only
when complete, so a reader never sees a partial blob. The writer holds an
exclusive ``flock`` on its temporary file until then; the kernel drops it when
the writer dies however it dies, so :meth:`LocalBlobStore.sweep_partial` can tell a
part still being written (locked) from debris of a killed process (unlocked)
without guessing from ages. Every directory is
0700 and every blob 0600, whatever the process umask: a blob may be another
owner's encrypted file or a private payload.
"""

from __future__ import annotations

import fcntl
import hashlib
import logging
import os
import re
import stat
import time
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import BinaryIO, Protocol, Self

from teabox.platform.disk_space import DiskSpace, is_full_error
from teabox.platform.errors import NoSuchObject, TooLarge
from teabox.platform.private_files import create_private_file, private_dir

_CHUNK = 1024 * 1024
_SHA256 = re.compile(r"^[0-9a-f]{64}$")
_PART = ".part"

log = logging.getLogger("teabox.blobs")


class BlobWriter(Protocol):
    """An incremental write, for uploads that arrive in chunks; ``commit`` names the blob.

    ``write`` raises TooLarge (having dropped what it had) past the writer's
    limit; ``abort`` drops everything written; leaving the ``with`` block on an
    exception aborts. Nothing is visible under the blob's name before ``commit``.
    """

    size: int

    def write(self, chunk: bytes) -> None: ...
    def commit(self) -> str: ...
    def abort(self) -> None: ...

    # The stores' writers inherit these: a ``with`` block left on an exception drops the write.
    def __enter__(self) -> Self:
        return self

    def __exit__(self, kind: object, exc: object, tb: object) -> None:
        if exc is not None:
            self.abort()


class BlobStore(Protocol):
    """Blobs by sha256, written once: a blob, once committed, keeps its bytes until it is removed."""

    disk: DiskSpace  # the data directory's free space, which the service reports (507) when it runs out

    def writer(self, max_bytes: int | None = None) -> BlobWriter: ...
    def probe(self) -> None: ...  # raise OSError unless the store can be reached now (the readiness check)
    def put(self, src: Path | BinaryIO | bytes, max_bytes: int | None = None) -> tuple[str, int]: ...
    def open(self, sha256: str) -> BinaryIO: ...
    def read(self, sha256: str) -> bytes: ...
    def exists(self, sha256: str) -> bool: ...
    def size(self, sha256: str) -> int: ...
    def older_than(self, age_seconds: float) -> list[str]: ...
    def remove(self, sha256: str) -> None: ...
    def sweep_partial(self) -> Sequence[object]: ...
    def __hash__(self) -> int: ...  # by identity: what is cached per store (the console's payload reports)


def is_blob_id(text: str) -> bool:
    return bool(_SHA256.fullmatch(text))


def check_blob_id(text: str) -> str:
    """``text`` if it is a blob id; a blob id is all a caller may name, so nothing else reaches a path or key."""
    if not is_blob_id(text):
        raise NoSuchObject(f"'{text}' is not a blob id (a lowercase hex sha256)", "unknown_blob")
    return text


class LocalBlobWriter(BlobWriter):
    """A write to a locked part file, renamed into place on ``commit``."""

    def __init__(self, store: LocalBlobStore, max_bytes: int | None) -> None:
        self._store = store
        self._max_bytes = max_bytes
        try:
            self._temporary, self._file = _locked_part(store.root / "tmp")
        except OSError as exc:
            raise (store.disk.saw_full() if is_full_error(exc) else exc) from exc
        self._hash = hashlib.sha256()
        self.size = 0

    def write(self, chunk: bytes) -> None:
        self.size += len(chunk)
        if self._max_bytes is not None and self.size > self._max_bytes:
            self.abort()
            raise TooLarge(f"the upload is larger than the {self._max_bytes}-byte limit")
        self._hash.update(chunk)
        try:
            self._file.write(chunk)
        except OSError as exc:
            raise self._refused(exc) from exc

    def commit(self) -> str:
        sha256 = self._hash.hexdigest()
        target = self._store.path(sha256, must_exist=False)
        try:
            self._file.flush()
            private_dir(target.parent)
            os.replace(self._temporary, target)  # still locked: a sweep cannot take the part before it is in place
        except OSError as exc:
            raise self._refused(exc) from exc
        self._file.close()
        return sha256

    def abort(self) -> None:
        self._temporary.unlink(missing_ok=True)
        try:
            self._file.close()
        except OSError:
            pass  # a close that flushes what a full disk refused: the part is gone anyway

    def _refused(self, exc: OSError) -> Exception:
        """The error to raise for a failed write, after dropping the part: a full disk is a refusal, not a bug."""
        self.abort()
        return self._store.disk.saw_full() if is_full_error(exc) else exc


class LocalBlobStore:
    """Blobs under ``root/<first two hex digits>/<sha256>``; a write that finds the disk full raises StorageFull."""

    def __init__(self, root: Path, disk: DiskSpace | None = None) -> None:
        self.root = private_dir(Path(root))
        self.disk = disk or DiskSpace(self.root)
        private_dir(self.root / "tmp")

    def writer(self, max_bytes: int | None = None) -> LocalBlobWriter:
        return LocalBlobWriter(self, max_bytes)

    def probe(self) -> None:
        """Raise OSError unless the store can be reached now (the readiness check)."""
        if not stat.S_ISDIR(os.stat(self.root / "tmp").st_mode):
            raise NotADirectoryError(f"{self.root / 'tmp'} is not a directory")

    def put(self, src: Path | BinaryIO | bytes, max_bytes: int | None = None) -> tuple[str, int]:
        """Store ``src`` (a path, a binary file object or bytes); returns (sha256, size)."""
        return put_through(self.writer(max_bytes), src)

    def path(self, sha256: str, *, must_exist: bool = True) -> Path:
        """Where the blob lives; a worker on this machine may read it in place."""
        path = self.root / check_blob_id(sha256)[:2] / sha256
        if must_exist and not path.is_file():
            raise NoSuchObject(f"no blob {sha256} in the blob store", "unknown_blob")
        return path

    def open(self, sha256: str) -> BinaryIO:
        return open(self.path(sha256), "rb")

    def read(self, sha256: str) -> bytes:
        return self.path(sha256).read_bytes()

    def exists(self, sha256: str) -> bool:
        return is_blob_id(sha256) and (self.root / sha256[:2] / sha256).is_file()

    def size(self, sha256: str) -> int:
        return self.path(sha256).stat().st_size

    def older_than(self, age_seconds: float) -> list[str]:
        """The ids of blobs last written more than ``age_seconds`` ago (a blob put again is new again)."""
        cutoff = time.time() - age_seconds
        found = []
        for path in self.root.glob("??/*"):
            try:
                if is_blob_id(path.name) and path.stat().st_mtime < cutoff:
                    found.append(path.name)
            except FileNotFoundError:
                continue
        return found

    def remove(self, sha256: str) -> None:
        self.path(sha256, must_exist=False).unlink(missing_ok=True)

    def sweep_partial(self) -> list[Path]:
        """Remove the partial writes of processes that died mid-write (a server killed during an upload).

        Safe at any time and from any process: a part whose writer is alive is
        locked and left alone. Returns what was removed.
        """
        removed: list[Path] = []
        for part in (self.root / "tmp").glob(f"*{_PART}"):
            try:
                handle = open(part, "rb")
            except FileNotFoundError:
                continue  # committed or aborted meanwhile
            with handle:
                try:
                    fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except BlockingIOError:
                    continue  # being written
                if _still_linked(part, handle):
                    part.unlink(missing_ok=True)
                    removed.append(part)
        if removed:
            log.info("removed %d partial blob write(s) left by a process that died mid-write", len(removed))
        return removed


def _locked_part(directory: Path) -> tuple[Path, BinaryIO]:
    """A new private part file, locked, and still linked under its name once locked.

    A sweep may remove a part between its creation and its lock (it looks
    abandoned for that instant); a part found unlinked is replaced by a new one.
    """
    while True:
        path = directory / f"{uuid.uuid4().hex}{_PART}"
        file = os.fdopen(create_private_file(path), "wb")
        fcntl.flock(file, fcntl.LOCK_EX)
        if _still_linked(path, file):
            return path, file
        file.close()


def _still_linked(path: Path, file: BinaryIO) -> bool:
    try:
        return os.stat(path).st_ino == os.fstat(file.fileno()).st_ino
    except FileNotFoundError:
        return False


def put_through(writer: BlobWriter, src: Path | BinaryIO | bytes) -> tuple[str, int]:
    """Write ``src`` (a path, a binary file object or bytes) through ``writer`` chunk by chunk; (sha256, size)."""
    with writer:
        if isinstance(src, bytes):
            writer.write(src)
        elif isinstance(src, Path):
            with open(src, "rb") as file:
                _copy(file, writer)
        else:
            _copy(src, writer)
        return writer.commit(), writer.size


def _copy(src: BinaryIO, writer: BlobWriter) -> None:
    while chunk := src.read(_CHUNK):
        writer.write(chunk)
