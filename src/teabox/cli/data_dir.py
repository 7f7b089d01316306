"""How the operator commands report a data directory they must not open."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import click
from sqlalchemy.exc import OperationalError

from teabox.platform.blob_location import BlobLocationError
from teabox.platform.blobs_s3 import BlobStoreError
from teabox.platform.database_url import DatabaseUrlError
from teabox.platform.db import SchemaOutdated
from teabox.platform.file_keys import PlatformKeyError
from teabox.platform.private_files import DataDirExposed, DataDirUnwritable


@contextmanager
def storage_refusals() -> Iterator[None]:
    """End the command with the refusal's one-line message (which names the fix), not a traceback."""
    try:
        yield
    except (
        DataDirExposed,
        DataDirUnwritable,
        PlatformKeyError,
        DatabaseUrlError,
        SchemaOutdated,
        BlobLocationError,
        BlobStoreError,
    ) as exc:
        raise click.ClickException(str(exc)) from exc
    except OperationalError as exc:  # the database server is unreachable or refused the login
        raise click.ClickException(f"cannot use the database: {str(exc.orig).strip()}") from exc
