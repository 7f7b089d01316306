"""Where a platform keeps its blobs: ``--blobs URL`` (``TEABOX_BLOBS_URL``), opened as a blob store.

* nothing: the data directory's ``blobs`` folder, as always;
* a path or a ``file://`` URL: a folder elsewhere on this machine (a local store);
* ``s3://bucket/prefix``: an S3-API object store. The endpoint is ``--s3-endpoint``,
  else ``AWS_ENDPOINT_URL_S3``, else ``AWS_ENDPOINT_URL``, else Amazon S3's own. The
  credentials and region come from the AWS SDK's usual places (``AWS_ACCESS_KEY_ID`` and
  ``AWS_SECRET_ACCESS_KEY``, ``AWS_PROFILE`` and its files, an instance role;
  ``AWS_DEFAULT_REGION``), never from the command line, where other users could read them.

A :class:`BlobLocation` is plain data, so that it crosses into spawned worker processes,
which open their own store from it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import unquote, urlsplit

from teabox import config
from teabox.errors import TeaboxError
from teabox.platform.blobs import BlobStore, LocalBlobStore
from teabox.platform.disk_space import DiskSpace

if TYPE_CHECKING:
    from botocore.client import BaseClient

S3_EXTRA_INSTALL = "pip install '.[s3]'"
_BUCKET = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")


class BlobLocationError(TeaboxError):
    """``--blobs`` or ``--s3-endpoint`` names no usable store, or the S3 client is not installed."""


@dataclass(frozen=True)
class BlobLocation:
    url: str | None = None  # None or "": the data directory's blob folder
    s3_endpoint: str | None = None  # None: from the AWS variables, else Amazon S3's own endpoint

    def open(self, data_dir: Path, disk: DiskSpace) -> BlobStore:
        """The blob store this location names (no request is sent to an object store yet)."""
        if not self.url:
            return LocalBlobStore(data_dir / "blobs", disk)
        parts = urlsplit(self.url)
        if parts.scheme == "s3":
            return self._open_s3(disk)
        if parts.scheme == "file" and parts.netloc in ("", "localhost") and not parts.query and not parts.fragment:
            return LocalBlobStore(Path(unquote(parts.path)), disk)
        if "://" not in self.url:
            return LocalBlobStore(Path(self.url).resolve(), disk)
        raise BlobLocationError(
            f"--blobs {self.url!r}: a blob store is a folder (a path or file:///path) or s3://bucket/prefix"
        )

    def _open_s3(self, disk: DiskSpace) -> BlobStore:
        bucket, prefix = parse_s3_url(self.url or "")
        from teabox.platform.blobs_s3 import S3BlobStore

        return S3BlobStore(s3_client(self.endpoint(), f"--blobs {self.url}"), bucket, prefix, disk)

    def endpoint(self) -> str | None:
        endpoint = self.s3_endpoint or config.S3_ENDPOINT.get() or config.ENDPOINT.get()
        return None if endpoint is None else check_endpoint(endpoint)

    @property
    def is_s3(self) -> bool:
        return bool(self.url) and urlsplit(self.url or "").scheme == "s3"


def check_endpoint(endpoint: str) -> str:
    """``endpoint`` if it is an S3 store's base URL; an endpoint is never the place for credentials."""
    parts = urlsplit(endpoint)
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.username or parts.query:
        raise BlobLocationError(
            f"S3 endpoint {endpoint!r}: give the store's base URL, http(s)://host[:port], without credentials"
        )
    return endpoint


def s3_client(endpoint: str | None, needed_by: str) -> BaseClient:
    """An S3 client for ``endpoint`` (None: Amazon S3's own), credentials from the AWS SDK's usual places.

    ``needed_by`` names what asked for it, in the message when boto3 is not installed.
    """
    try:
        import boto3
        from botocore.config import Config
    except ImportError:
        raise BlobLocationError(
            f"{needed_by}: an S3 blob store needs boto3, which comes with teabox's 's3' extra: "
            f"run {S3_EXTRA_INSTALL} in a clone of the teabox repository"
        ) from None
    # An endpoint of one's own (a store other than Amazon's) is reached by path: bucket names need no DNS.
    # Signature version 4 for requests and presigned URLs alike: a presigned URL is then bound to its host and
    # lives at most seven days, whatever a region's or a store's default would have been.
    client_config = Config(
        s3={"addressing_style": "path"} if endpoint else {},
        signature_version="s3v4",
        retries={"mode": "standard"},
        connect_timeout=10,
        read_timeout=60,
    )
    return boto3.session.Session().client("s3", endpoint_url=endpoint, config=client_config)


def parse_s3_url(url: str) -> tuple[str, str]:
    """(bucket, prefix) of ``s3://bucket[/prefix]``; the prefix, if any, ends with ``/``."""
    parts = urlsplit(url)
    bucket = parts.netloc
    if parts.scheme != "s3" or not _BUCKET.match(bucket) or ".." in bucket or parts.query or parts.fragment:
        raise BlobLocationError(
            f"--blobs {url!r}: an S3 blob store is s3://bucket/prefix, with a bucket name of 3-63 lowercase "
            "letters, digits, dots and hyphens (credentials go in the AWS variables, not the URL)"
        )
    segments = [segment for segment in parts.path.split("/") if segment]
    if any(segment in (".", "..") for segment in segments):
        raise BlobLocationError(f"--blobs {url!r}: the prefix may not contain '.' or '..' segments")
    return bucket, "".join(f"{segment}/" for segment in segments)
