"""``--blobs URL`` and ``--s3-endpoint URL``: where ``serve``, ``worker`` and ``admin`` keep blobs; and how
``serve`` answers downloads of blobs in an S3 store (``--presign-downloads``, ``--s3-public-endpoint``)."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar

import click

from teabox import config
from teabox.platform.blob_location import BlobLocation

F = TypeVar("F", bound=Callable[..., Any])


def blob_options(command: F) -> F:
    """Add the two options; the command receives them together as ``blobs``, a :class:`BlobLocation`."""

    @functools.wraps(command)
    def with_location(*args: Any, blobs_url: str | None, s3_endpoint: str | None, **kwargs: Any) -> Any:
        return command(*args, blobs=BlobLocation(blobs_url or None, s3_endpoint or None), **kwargs)

    with_endpoint = click.option(
        "--s3-endpoint",
        metavar="URL",
        help="The S3 store's endpoint for an s3:// --blobs (default: AWS_ENDPOINT_URL_S3, AWS_ENDPOINT_URL, "
        "else Amazon S3). Credentials come from the AWS variables (AWS_ACCESS_KEY_ID ...) or profile.",
    )(with_location)
    return click.option(  # type: ignore[return-value]
        "--blobs",
        "blobs_url",
        metavar="URL",
        envvar=config.BLOBS_URL.name,
        help="Where payloads and platform-hosted files live: s3://bucket/prefix or a folder "
        "(default: the data directory's blobs folder).",
    )(with_endpoint)


def presign_options(command: F) -> F:
    """Add ``--presign-downloads SECONDS`` and ``--s3-public-endpoint URL`` (see teabox.service.presigned_downloads)."""
    command = click.option(
        "--s3-public-endpoint",
        metavar="URL",
        envvar=config.S3_PUBLIC_ENDPOINT.name,
        show_envvar=True,
        help="The S3 store's address as clients reach it, for presigned download URLs "
        "(default: the --s3-endpoint the server uses).",
    )(command)
    return click.option(
        "--presign-downloads",
        type=int,
        metavar="SECONDS",
        envvar=config.PRESIGN_DOWNLOADS.name,
        show_envvar=True,
        help="With an s3:// --blobs, answer an authorised download with a redirect to a presigned URL of the "
        "store, valid this many seconds (1-3600), instead of streaming it through the server (default: stream).",
    )(command)
