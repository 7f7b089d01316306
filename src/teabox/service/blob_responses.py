"""A blob as an HTTP download, from whichever store holds it.

A local blob is sent by the server's file response (``sendfile`` where it can); a blob in an
object store is streamed through this process piece by piece, so a download of any size holds
one piece in memory, and the client never needs the store's address or credentials. When the
operator asks for it (``--presign-downloads``), a blob in an object store is instead answered with
a redirect to a short-lived presigned URL of the store (:mod:`teabox.service.presigned_downloads`),
so that its bytes do not pass through the API server at all.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, BinaryIO
from urllib.parse import quote

from fastapi.responses import FileResponse, RedirectResponse, Response, StreamingResponse

from teabox.platform.blobs import BlobStore, LocalBlobStore

if TYPE_CHECKING:
    from teabox.service.presigned_downloads import PresignedDownloads

_PIECE = 1024 * 1024
_MEDIA_TYPE = "application/octet-stream"
# The redirect carries a credential for the blob: no cache or proxy may keep it or hand it to another client.
_REDIRECT_HEADERS = {"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"}


def blob_download(blobs: BlobStore, sha256: str, name: str, presigned: PresignedDownloads | None = None) -> Response:
    """The blob ``sha256`` as an attachment named ``name``; NoSuchObject if there is no such blob.

    With ``presigned``, a 307 redirect to the store's presigned URL for it, which the caller must
    only be given once it has checked that the user may read the blob.
    """
    disposition = f"attachment; filename*=UTF-8''{quote(name)}"
    if presigned is not None:
        location = presigned.url(sha256, _MEDIA_TYPE, disposition)
        return RedirectResponse(location, status_code=307, headers=_REDIRECT_HEADERS)
    headers = {"Content-Disposition": disposition}
    if isinstance(blobs, LocalBlobStore):
        return FileResponse(blobs.path(sha256), media_type=_MEDIA_TYPE, headers=headers)
    size = blobs.size(sha256)
    headers["Content-Length"] = str(size)
    return StreamingResponse(_pieces(blobs.open(sha256)), media_type=_MEDIA_TYPE, headers=headers)


def _pieces(reader: BinaryIO) -> Iterator[bytes]:
    with reader:
        while piece := reader.read(_PIECE):
            yield piece
