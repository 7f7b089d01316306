"""Downloads answered by the object store itself: short-lived presigned GETs of S3 blobs.

With ``teabox serve --presign-downloads SECONDS``, a download the platform has just authorised
(``download_file``, ``download_payload``) is answered with a redirect to a URL of the store that
is signed (AWS signature version 4, with the API server's store credentials) for one GET of that
blob's key, for SECONDS. The signature covers the method, the host, the bucket and key, the answer
headers asked for and the lifetime, so a client cannot turn the URL into another object, another
method or a longer life, and the store refuses it once it has expired. Until then the URL is a
bearer credential for that one blob (already encrypted for its owners, or a payload its holder may
read): whoever holds it may read it, and neither a logout nor a lost right recalls it, hence
lifetimes of seconds, at most :data:`MAX_SECONDS`. It names the blob's sha256 and the store
credentials' access key id, never the secret key.

The URL is signed for ``--s3-public-endpoint`` when the store's own endpoint is one clients cannot
reach (an internal address); signing sends no request. Without ``--presign-downloads`` every
download streams through the API server, as it does for a local blob folder.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from teabox.platform.blob_location import BlobLocation, BlobLocationError, check_endpoint, parse_s3_url, s3_client
from teabox.platform.blobs_s3 import blob_key

if TYPE_CHECKING:
    from botocore.client import BaseClient

# A URL need only be valid when its download starts: an hour is ample, and bounds how long a URL outlives a right.
MAX_SECONDS = 3600


@dataclass(frozen=True)
class PresignedDownloads:
    """Signs GETs of blobs under ``prefix`` of ``bucket``, valid ``seconds``, for the endpoint ``client`` names."""

    client: BaseClient
    bucket: str
    prefix: str
    seconds: int

    @classmethod
    def configure(
        cls, blobs: BlobLocation, seconds: int | None, public_endpoint: str | None
    ) -> PresignedDownloads | None:
        """What ``--presign-downloads`` and ``--s3-public-endpoint`` ask for, or None (stream every download).

        Raises BlobLocationError for a choice that cannot work; sends no request to the store.
        """
        if seconds is None:
            if public_endpoint:
                raise BlobLocationError(
                    "--s3-public-endpoint is where presigned download URLs point, and --presign-downloads is not set"
                )
            return None
        if not blobs.is_s3:
            raise BlobLocationError(
                "--presign-downloads needs an S3 blob store (--blobs s3://bucket/prefix): "
                "blobs in a folder have no URL of their own, and their downloads stream through the server"
            )
        if not 1 <= seconds <= MAX_SECONDS:
            raise BlobLocationError(f"--presign-downloads {seconds}: give a lifetime of 1 to {MAX_SECONDS} seconds")
        bucket, prefix = parse_s3_url(blobs.url or "")
        endpoint = check_endpoint(public_endpoint) if public_endpoint else blobs.endpoint()
        return cls(s3_client(endpoint, "--presign-downloads"), bucket, prefix, seconds)

    def url(self, sha256: str, content_type: str, content_disposition: str) -> str:
        """A URL that GETs blob ``sha256`` once the store checks it, answered with these two headers."""
        params = {
            "Bucket": self.bucket,
            "Key": blob_key(self.prefix, sha256),
            "ResponseContentType": content_type,
            "ResponseContentDisposition": content_disposition,
        }
        return str(self.client.generate_presigned_url("get_object", Params=params, ExpiresIn=self.seconds))
