"""Files kept by the platform itself, and their URLs: ``teabox://files/<file_id>/<name>``.

The last component is the file's bound name (the name a ``teaclave-file-128``
file carries inside its ciphertext), so the same naming rule holds for every
URL scheme. The bytes are a blob; the ``hosted_files`` row links the id to
the blob, once it has one.

:class:`HostedFiles` is what a worker needs: read a hosted input, and write a
hosted output in two phases (the blob is stored first, the link is made on
commit) so that outputs are published all together or not at all. Its errors
are ``OSError`` subclasses (missing file, already written), which the
worker's transfer code already turns into a task failure naming the URL.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO
from urllib.parse import quote, unquote, urlsplit

from sqlalchemy import exists, select, update

from teabox.platform.blobs import BlobStore
from teabox.platform.db import Database
from teabox.platform.errors import Invalid, MalformedRequest, PlatformError, TooLarge
from teabox.platform.models import DataFile, HostedFile

SCHEME = "teabox"
_ID = re.compile(r"^[0-9a-f]{32}$")


@dataclass(frozen=True)
class HostedUrl:
    file_id: str
    name: str


def hosted_url(file_id: str, name: str) -> str:
    return f"{SCHEME}://files/{file_id}/{quote(name, safe='')}"


def check_file_name(name: str) -> str:
    """A bound file name: one non-empty path component."""
    if not name or name in (".", "..") or "/" in name or "\\" in name or "\x00" in name or len(name.encode()) > 255:
        raise Invalid(
            f"'{name}' is not a usable file name: it must be one path component of 1-255 bytes", "invalid_name"
        )
    return name


def parse_hosted_url(url: str) -> HostedUrl:
    """Split a ``teabox://files/<id>/<name>`` URL; raises MalformedRequest (malformed URL) or Invalid (bad name)."""
    try:
        parts = urlsplit(url)
    except ValueError:
        parts = urlsplit("")
    segments = parts.path.split("/")
    if (
        parts.scheme != SCHEME
        or parts.netloc != "files"
        or len(segments) != 3
        or segments[0] != ""
        or not _ID.match(segments[1])
        or parts.query
        or parts.fragment
    ):
        raise MalformedRequest(
            f"url: '{url}' is not a platform file URL of the form {SCHEME}://files/<file_id>/<name>", "invalid_url"
        )
    return HostedUrl(segments[1], check_file_name(unquote(segments[2])))


def is_hosted(url: str) -> bool:
    return urlsplit(url).scheme == SCHEME


class HostedFiles:
    """Hosted-file access for workers (matches ``teabox.worker.fetch.HostedFiles``)."""

    scheme = SCHEME

    def __init__(self, database: Database, blobs: BlobStore) -> None:
        self.database = database
        self.blobs = blobs

    def _row(self, url: str) -> HostedFile:
        try:
            parsed = parse_hosted_url(url)
        except PlatformError as exc:
            raise FileNotFoundError(exc.message) from exc
        with self.database.read() as session:
            row = session.get(HostedFile, parsed.file_id)
        if row is None or row.name != parsed.name:
            raise FileNotFoundError(f"no platform file {url}")
        return row

    def open_hosted(self, url: str) -> BinaryIO:
        row = self._row(url)
        if row.sha256 is None:
            raise FileNotFoundError(f"the platform file {url} has not been written yet")
        return self.blobs.open(row.sha256)

    def stage_hosted(self, src: Path, url: str, max_bytes: int) -> HostedUpload:
        row = self._row(url)
        if row.uploaded:
            raise PermissionError(f"the platform file {url} was uploaded by a user; tasks write only reserved files")
        if self._recorded(url):
            raise FileExistsError(f"the platform file {url} already holds a recorded output")
        try:
            sha256, size = self.blobs.put(Path(src), max_bytes)
        except TooLarge as exc:
            raise OSError(f"output for {url} is over the {max_bytes}-byte limit") from exc
        return HostedUpload(self, url, row.id, sha256, size, previous=(row.sha256, row.size))

    def withdraw_hosted(self, url: str) -> None:
        """Unlink a reserved file from bytes a task wrote but never recorded (its blob goes with the blob sweep)."""
        row = self._row(url)
        if not row.uploaded and not self._recorded(url):
            self._link(row.id, None, 0)

    def _recorded(self, url: str) -> bool:
        with self.database.read() as session:
            return bool(
                session.scalar(
                    select(exists().where(DataFile.url == url, DataFile.kind == "output", DataFile.cmac.is_not(None)))
                )
            )

    def _link(self, file_id: str, sha256: str | None, size: int) -> None:
        with self.database.write() as session:
            session.execute(
                update(HostedFile)
                .where(HostedFile.id == file_id, HostedFile.uploaded.is_(False))
                .values(sha256=sha256, size=size)
            )


@dataclass
class HostedUpload:
    """A hosted output whose blob is stored but not yet linked to its file id."""

    store: HostedFiles
    url: str
    file_id: str
    sha256: str
    size: int
    previous: tuple[str | None, int]
    committed: bool = False

    def commit(self) -> None:
        self.store._link(self.file_id, self.sha256, self.size)
        self.committed = True

    def abort(self) -> None:
        return None  # an unlinked blob is unreachable and harmless

    def undo(self) -> None:
        if self.committed:
            self.store._link(self.file_id, *self.previous)
            self.committed = False
