"""A blob as an HTTP download, from whichever store holds it.

A local blob is sent by the server's file response (``sendfile`` where it can); a blob in an
object store is streamed through this process piece by piece, so a download of any size holds
one piece in memory, and the client never needs the store's address or credentials.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import BinaryIO
from urllib.parse import quote

from fastapi.responses import FileResponse, Response, StreamingResponse

from teabox.platform.blobs import BlobStore, LocalBlobStore

_PIECE = 1024 * 1024
_MEDIA_TYPE = "application/octet-stream"


def blob_download(blobs: BlobStore, sha256: str, name: str) -> Response:
    """The blob ``sha256`` as an attachment named ``name``; NoSuchObject if there is no such blob."""
    headers = {"Content-Disposition": f"attachment; filename*=UTF-8''{quote(name)}"}
    if isinstance(blobs, LocalBlobStore):
        return FileResponse(blobs.path(sha256), media_type=_MEDIA_TYPE, headers=headers)
    size = blobs.size(sha256)
    headers["Content-Length"] = str(size)
    return StreamingResponse(_pieces(blobs.open(sha256)), media_type=_MEDIA_TYPE, headers=headers)


def _pieces(reader: BinaryIO) -> Iterator[bytes]:
    with reader:
        while piece := reader.read(_PIECE):
            yield piece
