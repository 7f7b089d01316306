"""Content-addressed blobs in an S3-API object store (``--blobs s3://bucket/prefix``).

Same contract as :class:`teabox.platform.blobs.LocalBlobStore`, on S3's terms:

* A blob lives under ``<prefix>blobs/<sha256>``. Its name is only known once
  its last byte is read, so a write that outgrows one part streams as a
  multipart upload to a temporary key ``<prefix>tmp/<random>`` and is then
  copied, server-side and part by part, to its name: the bytes cross the
  network once from this process, and at most one part (``part_bytes``) is in
  its memory at a time. A write that fits in one part is put directly.
* Every write to a blob's name is conditional (``If-None-Match: *``): it never
  replaces an object. A blob that is already there has the same bytes, by its
  name; writing it again only makes it young again (a server-side copy onto
  itself, from itself, which refreshes its modification time for the sweep of
  unreferenced blobs), as re-writing a local blob does.
* A failed write aborts its multipart upload and removes its temporary key.
  What a killed process leaves (an upload never completed or aborted, a
  temporary key never copied) cannot be told from a live write by a lock, as
  the local store does, so :meth:`S3BlobStore.sweep_partial` removes what is
  older than ``partial_max_age`` seconds, longer than any upload may take.

S3 failures (unreachable endpoint, refused credentials, missing bucket) are
:class:`BlobStoreError`, an ``OSError``: the worker's transfer code turns them
into a task failure naming the file, like a local I/O error.
"""

from __future__ import annotations

import hashlib
import io
import logging
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO, cast

from teabox.platform.blobs import BlobWriter, check_blob_id, is_blob_id, put_through
from teabox.platform.disk_space import DiskSpace
from teabox.platform.errors import NoSuchObject, TooLarge, Unavailable

if TYPE_CHECKING:
    from botocore.client import BaseClient

log = logging.getLogger("teabox.blobs")

MIB = 1024 * 1024
PART_BYTES = 8 * MIB  # S3 wants parts of at least 5 MiB (but the last)
COPY_PART_BYTES = 1024 * MIB  # S3 copies at most 5 GiB in one request
PARTIAL_MAX_AGE_SECONDS = 24 * 3600.0
UNAVAILABLE_RETRY_SECONDS = 5  # what a refused client is told to wait: a store outage is rarely shorter
_MISSING = {"404", "NoSuchKey", "NotFound"}


def blob_key(prefix: str, sha256: str) -> str:
    """The object key of blob ``sha256`` under ``prefix``: only a blob id can become a key."""
    return f"{prefix}blobs/{check_blob_id(sha256)}"


class BlobStoreError(OSError):
    """The object store failed or refused a request; the message names the store and what it said."""

    def __init__(self, message: str, code: str | None) -> None:
        super().__init__(message)
        self.code = code  # S3's error code (PreconditionFailed, NoSuchBucket ...), None if none came back


def unavailable(exc: BlobStoreError) -> Unavailable:
    """The refusal a client gets for a failed store request: the store's name and answer stay in the log."""
    log.error("%s", exc)
    return Unavailable(
        "the blob store cannot be reached or refused the request; retry later",
        UNAVAILABLE_RETRY_SECONDS,
        "blob_store_unavailable",
    )


def _code(exc: Exception) -> str | None:
    from botocore.exceptions import ClientError

    return str(exc.response.get("Error", {}).get("Code")) if isinstance(exc, ClientError) else None


class S3BlobWriter(BlobWriter):
    """An incremental write: one buffered part in memory, earlier parts already sent."""

    def __init__(self, store: S3BlobStore, max_bytes: int | None) -> None:
        self._store = store
        self._max_bytes = max_bytes
        self._hash = hashlib.sha256()
        self._buffer = bytearray()
        self._temporary = f"{store.prefix}tmp/{uuid.uuid4().hex}"
        self._upload_id: str | None = None
        self._parts: list[dict[str, Any]] = []
        self._completed = False
        self.size = 0

    def write(self, chunk: bytes) -> None:
        self.size += len(chunk)
        if self._max_bytes is not None and self.size > self._max_bytes:
            self.abort()
            raise TooLarge(f"the upload is larger than the {self._max_bytes}-byte limit")
        self._hash.update(chunk)
        self._buffer += chunk
        part = self._store.part_bytes
        while len(self._buffer) >= part:
            with memoryview(self._buffer) as view:
                data = bytes(view[:part])  # the one copy: a slice of the bytearray would be a second
            del self._buffer[:part]
            self._send(data)

    def commit(self) -> str:
        sha256 = self._hash.hexdigest()
        store = self._store
        with self._aborting_on_failure():
            if self._upload_id is None:
                store._create(
                    sha256, lambda key: store._call("put_object", Key=key, Body=bytes(self._buffer), IfNoneMatch="*")
                )
            else:
                if self._buffer:
                    self._send(bytes(self._buffer))
                store._call(
                    "complete_multipart_upload",
                    Key=self._temporary,
                    UploadId=self._upload_id,
                    MultipartUpload={"Parts": self._parts},
                )
                self._completed = True
                store._create(sha256, lambda key: store._copy(self._temporary, key, self.size, conditional=True))
                store._call("delete_object", Key=self._temporary)
        self._buffer.clear()
        return sha256

    def abort(self) -> None:
        """Drop what was written: the upload's parts, or the temporary object they became."""
        self._buffer.clear()
        upload_id, self._upload_id = self._upload_id, None
        try:
            if self._completed:
                self._store._call("delete_object", Key=self._temporary)
            elif upload_id is not None:
                self._store._call("abort_multipart_upload", Key=self._temporary, UploadId=upload_id)
        except BlobStoreError as exc:
            # Left for sweep_partial, which removes it once it is old enough.
            log.warning("could not drop the partial write %s: %s", self._temporary, exc)

    def _send(self, data: bytes) -> None:
        with self._aborting_on_failure():
            if self._upload_id is None:
                created = self._store._call("create_multipart_upload", Key=self._temporary)
                self._upload_id = str(created["UploadId"])
            number = len(self._parts) + 1
            sent = self._store._call(
                "upload_part", Key=self._temporary, UploadId=self._upload_id, PartNumber=number, Body=data
            )
            self._parts.append({"ETag": sent["ETag"], "PartNumber": number})

    @contextmanager
    def _aborting_on_failure(self) -> Iterator[None]:
        try:
            yield
        except BaseException:
            self.abort()
            raise


class S3BlobStore:
    """Blobs under ``s3://<bucket>/<prefix>blobs/<sha256>``, written once (see the module docstring)."""

    def __init__(
        self,
        client: BaseClient,
        bucket: str,
        prefix: str,
        disk: DiskSpace,
        *,
        part_bytes: int = PART_BYTES,
        copy_part_bytes: int = COPY_PART_BYTES,
        partial_max_age: float = PARTIAL_MAX_AGE_SECONDS,
    ) -> None:
        self.client = client
        self.bucket = bucket
        self.prefix = prefix
        self.disk = disk
        self.part_bytes = part_bytes
        self.copy_part_bytes = copy_part_bytes
        self.partial_max_age = partial_max_age

    def __repr__(self) -> str:
        return f"s3://{self.bucket}/{self.prefix}"

    def writer(self, max_bytes: int | None = None) -> S3BlobWriter:
        return S3BlobWriter(self, max_bytes)

    def probe(self) -> None:
        """Raise BlobStoreError unless the bucket answers now (the readiness check): one small listing."""
        self._call("list_objects_v2", Prefix=f"{self.prefix}blobs/", MaxKeys=1)

    def put(self, src: Path | BinaryIO | bytes, max_bytes: int | None = None) -> tuple[str, int]:
        return put_through(self.writer(max_bytes), src)

    def key(self, sha256: str) -> str:
        return blob_key(self.prefix, sha256)

    def open(self, sha256: str) -> BinaryIO:
        """A streaming reader of the blob: its bytes come from the store as they are read."""
        body = self._get(sha256)["Body"]
        return cast(BinaryIO, io.BufferedReader(_Body(body), MIB))

    def read(self, sha256: str) -> bytes:
        with self.open(sha256) as reader:
            return reader.read()

    def exists(self, sha256: str) -> bool:
        try:
            self._head(sha256)
        except NoSuchObject:
            return False
        return True

    def size(self, sha256: str) -> int:
        return int(self._head(sha256)["ContentLength"])

    def older_than(self, age_seconds: float) -> list[str]:
        """The ids of blobs last written more than ``age_seconds`` ago (a blob put again is new again)."""
        cutoff = time.time() - age_seconds
        listed = self._listing(f"{self.prefix}blobs/")
        return [
            key.rsplit("/", 1)[1] for key, modified in listed if modified < cutoff and is_blob_id(key.rsplit("/", 1)[1])
        ]

    def remove(self, sha256: str) -> None:
        self._call("delete_object", Key=self.key(sha256))

    def sweep_partial(self) -> list[str]:
        """Remove the partial writes older than ``partial_max_age``: uploads never completed, temporary
        objects never copied (what processes killed mid-write left). Returns the temporary keys removed."""
        cutoff = time.time() - self.partial_max_age
        removed: list[str] = []
        pages = self._pages("list_multipart_uploads", "Uploads", Prefix=f"{self.prefix}tmp/")
        for upload in pages:
            if upload["Initiated"].timestamp() < cutoff:
                self._call("abort_multipart_upload", Key=upload["Key"], UploadId=upload["UploadId"])
                removed.append(str(upload["Key"]))
        for key, modified in self._listing(f"{self.prefix}tmp/"):
            if modified < cutoff:
                self._call("delete_object", Key=key)
                removed.append(key)
        if removed:
            log.info("removed %d partial blob write(s) older than %.0f s", len(removed), self.partial_max_age)
        return removed

    # -- S3 requests ---------------------------------------------------------------------------

    def _create(self, sha256: str, write: Callable[[str], object]) -> None:
        """Run ``write(key)``, a conditional write of the blob; if the blob is already there, make it young."""
        key = self.key(sha256)
        try:
            write(key)
        except BlobStoreError as exc:
            if exc.code != "PreconditionFailed":
                raise
            self._copy(key, key, self.size(sha256), conditional=False)

    def _copy(self, source: str, target: str, size: int, *, conditional: bool) -> None:
        """Copy ``source`` to ``target`` in the store, part by part (any size); with ``conditional``, only if
        ``target`` does not exist yet (else PreconditionFailed, and ``target`` is untouched)."""
        upload_id = str(self._call("create_multipart_upload", Key=target)["UploadId"])
        try:
            parts = []
            for number, start in enumerate(range(0, max(size, 1), self.copy_part_bytes), start=1):
                copy_range = {"CopySourceRange": f"bytes={start}-{min(start + self.copy_part_bytes, size) - 1}"}
                copied = self._call(
                    "upload_part_copy",
                    Key=target,
                    UploadId=upload_id,
                    PartNumber=number,
                    CopySource={"Bucket": self.bucket, "Key": source},
                    **(copy_range if size else {}),
                )
                parts.append({"ETag": copied["CopyPartResult"]["ETag"], "PartNumber": number})
            condition = {"IfNoneMatch": "*"} if conditional else {}
            self._call(
                "complete_multipart_upload",
                Key=target,
                UploadId=upload_id,
                MultipartUpload={"Parts": parts},
                **condition,
            )
        except BaseException:
            try:
                self._call("abort_multipart_upload", Key=target, UploadId=upload_id)
            except BlobStoreError as exc:
                log.warning("could not abort the copy to %s: %s", target, exc)
            raise

    def _get(self, sha256: str) -> dict[str, Any]:
        return self._call("get_object", Key=self.key(sha256), _blob=sha256)

    def _head(self, sha256: str) -> dict[str, Any]:
        return self._call("head_object", Key=self.key(sha256), _blob=sha256)

    def _listing(self, prefix: str) -> list[tuple[str, float]]:
        pages = self._pages("list_objects_v2", "Contents", Prefix=prefix)
        return [(str(item["Key"]), item["LastModified"].timestamp()) for item in pages]

    def _pages(self, operation: str, field: str, **params: Any) -> list[dict[str, Any]]:
        try:
            paginator = self.client.get_paginator(operation)
            return [item for page in paginator.paginate(Bucket=self.bucket, **params) for item in page.get(field, [])]
        except Exception as exc:
            raise self._failure(operation, exc) from exc

    def _call(self, operation: str, *, _blob: str | None = None, **params: Any) -> dict[str, Any]:
        try:
            answer: dict[str, Any] = getattr(self.client, operation)(Bucket=self.bucket, **params)
        except Exception as exc:
            if _blob is not None and _code(exc) in _MISSING:
                raise NoSuchObject(f"no blob {_blob} in the blob store", "unknown_blob") from exc
            raise self._failure(operation, exc) from exc
        return answer

    def _failure(self, operation: str, exc: Exception) -> BlobStoreError:
        return BlobStoreError(f"the blob store {self!r} failed {operation}: {exc}", _code(exc))


class _Body(io.RawIOBase):
    """An S3 response body as a raw stream, so that a buffered reader can sit on it."""

    def __init__(self, body: Any) -> None:
        self._body = body

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        data = self._body.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)

    def close(self) -> None:
        if not self.closed:
            self._body.close()
        super().close()
