"""Content-addressed blobs on local disk: payloads and platform-hosted files.

A blob's name is the sha256 of its bytes, so writing the same bytes twice
stores them once, a reader can check what it got, and a blob that nothing
refers to yet (an upload refused half-way, an output whose task then failed)
is harmless. Writes go to a temporary file that is renamed into place only
when complete, so a reader never sees a partial blob. Every directory is
0700 and every blob 0600, whatever the process umask: a blob may be another
owner's encrypted file or a private payload.
"""

from __future__ import annotations

import hashlib
import os
import re
import uuid
from pathlib import Path
from typing import BinaryIO

from teabox.platform.errors import NotFound, TooLarge
from teabox.platform.private_files import create_private_file, private_dir

_CHUNK = 1024 * 1024
_SHA256 = re.compile(r"^[0-9a-f]{64}$")


class BlobWriter:
    """An incremental write, for uploads that arrive in chunks; ``commit`` names the blob."""

    def __init__(self, store: BlobStore, max_bytes: int | None) -> None:
        self._store = store
        self._max_bytes = max_bytes
        self._temporary = store.root / "tmp" / f"{uuid.uuid4().hex}.part"
        self._file: BinaryIO = os.fdopen(create_private_file(self._temporary), "wb")
        self._hash = hashlib.sha256()
        self.size = 0

    def write(self, chunk: bytes) -> None:
        self.size += len(chunk)
        if self._max_bytes is not None and self.size > self._max_bytes:
            self.abort()
            raise TooLarge(f"the upload is larger than the {self._max_bytes}-byte limit")
        self._hash.update(chunk)
        self._file.write(chunk)

    def commit(self) -> str:
        self._file.close()
        sha256 = self._hash.hexdigest()
        target = self._store.path(sha256, must_exist=False)
        private_dir(target.parent)
        os.replace(self._temporary, target)
        return sha256

    def abort(self) -> None:
        self._file.close()
        self._temporary.unlink(missing_ok=True)

    def __enter__(self) -> BlobWriter:
        return self

    def __exit__(self, kind: object, exc: object, tb: object) -> None:
        if exc is not None:
            self.abort()


class BlobStore:
    """Blobs under ``root/<first two hex digits>/<sha256>``."""

    def __init__(self, root: Path) -> None:
        self.root = private_dir(Path(root))
        private_dir(self.root / "tmp")

    def writer(self, max_bytes: int | None = None) -> BlobWriter:
        return BlobWriter(self, max_bytes)

    def put(self, src: Path | BinaryIO | bytes, max_bytes: int | None = None) -> tuple[str, int]:
        """Store ``src`` (a path, a binary file object or bytes); returns (sha256, size)."""
        with self.writer(max_bytes) as writer:
            if isinstance(src, bytes):
                writer.write(src)
            elif isinstance(src, Path):
                with open(src, "rb") as file:
                    _copy(file, writer)
            else:
                _copy(src, writer)
            return writer.commit(), writer.size

    def path(self, sha256: str, *, must_exist: bool = True) -> Path:
        """Where the blob lives; a worker on this machine may read it in place."""
        if not _SHA256.match(sha256):
            raise NotFound(f"'{sha256}' is not a blob id (a lowercase hex sha256)", "unknown_blob")
        path = self.root / sha256[:2] / sha256
        if must_exist and not path.is_file():
            raise NotFound(f"no blob {sha256} in the blob store", "unknown_blob")
        return path

    def open(self, sha256: str) -> BinaryIO:
        return open(self.path(sha256), "rb")

    def read(self, sha256: str) -> bytes:
        return self.path(sha256).read_bytes()

    def exists(self, sha256: str) -> bool:
        return bool(_SHA256.match(sha256)) and (self.root / sha256[:2] / sha256).is_file()

    def size(self, sha256: str) -> int:
        return self.path(sha256).stat().st_size


def _copy(src: BinaryIO, writer: BlobWriter) -> None:
    while chunk := src.read(_CHUNK):
        writer.write(chunk)
