"""``teabox admin``: operator commands that work on a data directory directly, not over HTTP.

There is no default administrator password: the first PlatformAdmin is
created here, by someone who can write to the data directory.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from teabox import config
from teabox.cli.blob_options import blob_options

if TYPE_CHECKING:
    from teabox.platform.blob_location import BlobLocation
    from teabox.platform.db import Database

data_dir_option = click.option(
    "--data-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=config.DEFAULT_DATA_DIR,
    envvar=config.DATA_DIR.name,
    show_default=True,
    help="The platform's data directory (database, blobs, staging).",
)
database_option = click.option(
    "--database",
    "database_url",
    metavar="URL",
    envvar=config.DATABASE_URL.name,
    help="The platform's database, e.g. postgresql://user@host:5432/teabox (needs the postgres extra); "
    "default: the SQLite file in the data directory.",
)
allow_file_dir_option = click.option(
    "--allow-file-dir",
    multiple=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="A directory file:// URLs may name (repeatable); without one, file:// URLs are refused.",
)


def _egress_policy(_context: click.Context, _parameter: click.Parameter, rules: tuple[str, ...]) -> object:
    from teabox.platform.egress import EgressPolicy, UrlRefused

    try:
        return EgressPolicy.from_texts(rules)
    except UrlRefused as exc:
        raise click.BadParameter(exc.message) from exc


allow_url_option = click.option(
    "--allow-url",
    "egress",
    multiple=True,
    metavar="HOST[:PORT]|CIDR",
    envvar=config.ALLOW_URL.name,
    callback=_egress_policy,
    help="Let http(s) input and output URLs reach this host name, address or range (repeatable; "
    "TEABOX_ALLOW_URL takes a space-separated list). Without one, only globally routable addresses.",
)


def transfer_pace_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """``--transfer-deadline`` and ``--min-transfer-rate``: how long and how slow one http(s) transfer may be."""
    from teabox.worker.pacing import Pace

    command = click.option(
        "--min-transfer-rate",
        default=Pace.min_bytes_per_second,
        show_default=True,
        type=click.IntRange(0),
        help=f"Bytes per second an http(s) download or upload must average after its first "
        f"{Pace.grace_seconds:g} s (0: no minimum).",
    )(command)
    return click.option(
        "--transfer-deadline",
        default=Pace.deadline_seconds,
        show_default=True,
        type=click.FloatRange(0, min_open=True),
        help="Seconds one http(s) download or upload may take in all.",
    )(command)


log_level_option = click.option(
    "--log-level", default="warning", show_default=True, type=click.Choice(["debug", "info", "warning", "error"])
)


@click.group("admin")
def admin_group() -> None:
    """Operator commands on a data directory: create the first admin, issue reset tokens, apply migrations."""


@admin_group.command("create")
@data_dir_option
@database_option
@click.option("--user-id", required=True, help="The new PlatformAdmin's user id.")
@click.option("--password-stdin", is_flag=True, help="Read the password from the first line of standard input.")
def create_command(data_dir: Path, database_url: str | None, user_id: str, password_stdin: bool) -> None:
    """Create a PlatformAdmin (prompting for the password unless --password-stdin)."""
    from teabox.cli.data_dir import storage_refusals
    from teabox.platform.auth import check_password_rules
    from teabox.platform.core import Platform
    from teabox.platform.errors import PlatformError
    from teabox.platform.storage import Storage

    def checked(password: str) -> str:
        try:
            check_password_rules(password)
        except PlatformError as exc:
            raise click.BadParameter(exc.message) from None
        return password

    if password_stdin:
        password = checked(sys.stdin.readline().rstrip("\r\n"))
    else:
        # The rules are checked on the first entry, so nobody types a refused password twice.
        password = click.prompt("Password", hide_input=True, value_proc=checked)
        if click.prompt("Repeat for confirmation", hide_input=True) != password:
            raise click.UsageError("the two passwords differ; nothing was created")
    with storage_refusals():
        storage = Storage.open(data_dir, database_url=database_url)
    where = f"the database {storage.database.display_url}" if database_url else str(data_dir)
    try:
        Platform(storage).create_admin(user_id, password)
    except PlatformError as exc:
        raise click.ClickException(exc.message) from exc
    finally:
        storage.close()
    click.echo(f"created PlatformAdmin '{user_id}' in {where}")


@admin_group.command("reset-password")
@data_dir_option
@database_option
@click.option("--user-id", required=True, help="The user whose account to lock and issue a reset token for.")
def reset_password_command(data_dir: Path, database_url: str | None, user_id: str) -> None:
    """Lock a user's account and print a one-time reset token (valid 24 h) to hand to that user in person.

    The user sets a new password with `teabox user redeem-reset`. No API returns such a token, so no
    platform user can obtain a login for another.
    """
    from teabox.cli.data_dir import storage_refusals
    from teabox.platform.core import Platform
    from teabox.platform.errors import PlatformError
    from teabox.platform.storage import Storage

    with storage_refusals():
        storage = Storage.open(data_dir, database_url=database_url)
    try:
        token = Platform(storage).issue_reset_token(user_id)
    except PlatformError as exc:
        raise click.ClickException(exc.message) from exc
    finally:
        storage.close()
    click.echo(token)


@admin_group.command("migrate")
@data_dir_option
@database_option
def migrate_command(data_dir: Path, database_url: str | None) -> None:
    """Create or upgrade the database schema (teabox serve also does this at start; workers never do).

    Safe to run from several machines at once: they migrate one after another.
    """
    from teabox.cli.data_dir import storage_refusals
    from teabox.platform.storage import Storage

    with storage_refusals():
        storage = Storage.open(data_dir, database_url=database_url)
    storage.close()
    click.echo(f"the database {storage.database.display_url} is at the newest schema")


_days = click.FloatRange(0)


@admin_group.command("gc")
@data_dir_option
@database_option
@blob_options
@click.option(
    "--tasks-older-than", "tasks_days", type=_days, metavar="DAYS", help="Remove tasks that ended this long ago."
)
@click.option("--audit-older-than", "audit_days", type=_days, metavar="DAYS", help="Remove audit entries this old.")
@click.option(
    "--blobs-older-than",
    "blobs_days",
    type=_days,
    metavar="DAYS",
    help="Remove blobs nothing refers to (debris of killed or failed writes) last written this long ago.",
)
def gc_command(
    data_dir: Path,
    database_url: str | None,
    blobs: BlobLocation,
    tasks_days: float | None,
    audit_days: float | None,
    blobs_days: float | None,
) -> None:
    """Archive, then remove, ended tasks and audit entries older than DAYS (fractions allowed).

    The removed rows are written to a JSON-lines file under DATA_DIR/archive first. Safe while
    the platform runs (keep --blobs-older-than well above the transfer deadline then: a hosted
    output is unreferenced between its staging and its commit). Without an option nothing is removed.
    """
    from teabox.cli.data_dir import storage_refusals
    from teabox.platform.retention import collect
    from teabox.platform.storage import Storage

    if tasks_days is None and audit_days is None and blobs_days is None:
        raise click.UsageError(
            "name what to remove: --tasks-older-than DAYS, --audit-older-than DAYS and/or --blobs-older-than DAYS"
        )
    with storage_refusals():
        storage = Storage.open(data_dir, database_url=database_url, blobs=blobs)
    try:
        collected = collect(
            storage,
            tasks_older_than_days=tasks_days,
            audit_older_than_days=audit_days,
            blobs_older_than_days=blobs_days,
        )
    finally:
        storage.close()
    click.echo(collected.summary())


@admin_group.group("worker-token")
def worker_token_group() -> None:
    """Credentials for workers on other machines (`teabox worker --url URL --token-file FILE`).

    A worker token lets a worker claim and run tasks through the API servers' worker endpoints, and
    nothing else: it is no user login. Only its hash is stored; the token is shown once, at creation.
    """


@worker_token_group.command("create")
@data_dir_option
@database_option
@click.option("--name", required=True, help="What the token is for (a machine or a pool): 1-64 letters, digits, . _ -")
def worker_token_create_command(data_dir: Path, database_url: str | None, name: str) -> None:
    """Issue a worker token: the token goes to standard output (once), its id to standard error."""
    from teabox.platform import worker_tokens

    with _platform_database(data_dir, database_url) as database:
        info, token = worker_tokens.issue(database, name)
    click.echo(f"worker token {info.id} ('{info.name}'); store it in a file only the worker's user reads", err=True)
    click.echo(token)


@worker_token_group.command("list")
@data_dir_option
@database_option
def worker_token_list_command(data_dir: Path, database_url: str | None) -> None:
    """List the worker tokens: id, name, when created, and when revoked (never the tokens themselves)."""
    from teabox.platform import worker_tokens
    from teabox.platform.timefmt import iso

    with _platform_database(data_dir, database_url) as database:
        for info in worker_tokens.listed(database):
            revoked = f"revoked {iso(info.revoked_at)}" if info.revoked_at is not None else "live"
            click.echo(f"{info.id}\t{info.name}\tcreated {iso(info.created_at)}\t{revoked}")


@worker_token_group.command("revoke")
@data_dir_option
@database_option
@click.argument("token_id")
def worker_token_revoke_command(data_dir: Path, database_url: str | None, token_id: str) -> None:
    """Revoke worker token TOKEN_ID: the API servers refuse it from its next call."""
    from teabox.platform import worker_tokens

    with _platform_database(data_dir, database_url) as database:
        info = worker_tokens.revoke(database, token_id)
    click.echo(f"worker token {info.id} ('{info.name}') is revoked")


@contextmanager
def _platform_database(data_dir: Path, database_url: str | None) -> Iterator[Database]:
    """The data directory's database, with refusals as one-line errors."""
    from teabox.cli.data_dir import storage_refusals
    from teabox.platform.errors import PlatformError
    from teabox.platform.storage import Storage

    with storage_refusals():
        storage = Storage.open(data_dir, database_url=database_url)
    try:
        yield storage.database
    except PlatformError as exc:
        raise click.ClickException(exc.message) from exc
    finally:
        storage.close()
