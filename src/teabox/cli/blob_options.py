"""``--blobs URL`` and ``--s3-endpoint URL``: where ``serve``, ``worker`` and ``admin`` keep blobs."""

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
