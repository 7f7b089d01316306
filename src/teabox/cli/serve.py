"""``teabox serve``: the HTTP service and the worker pool, in one command.

The service runs in this process (uvicorn); the workers are separate
processes supervised by :mod:`teabox.worker.pool`. They share nothing but the
data directory: the database (claims, leases, results) and the blob store.
Ctrl-C (or SIGTERM) stops the service, then the pool, cleanly.
"""

from __future__ import annotations

import functools
import logging
import signal
import socket
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from teabox.cli.admin import (
    allow_file_dir_option,
    allow_url_option,
    data_dir_option,
    database_option,
    log_level_option,
    transfer_pace_options,
)
from teabox.cli.blob_options import blob_options, presign_options
from teabox.cli.fairness_options import cap, max_queued_per_user_option, max_running_per_user_option
from teabox.cli.operations_options import log_format_option, metrics_options
from teabox.cli.service_options import service_limit_options, service_limits
from teabox.logs import LogFormat, configure_logging
from teabox.platform.egress import EgressPolicy
from teabox.platform.settings import DEFAULT_WORKERS, Settings
from teabox.worker.pacing import Pace

if TYPE_CHECKING:
    from teabox.platform.blob_location import BlobLocation
    from teabox.platform.storage import Storage
    from teabox.worker.fetch import Transfers
    from teabox.worker.pool import WorkerPool

DEFAULT_PORT = 7777
# How often the blob store's partial writes are checked for ones whose writer died (a cheap directory scan).
PARTIAL_SWEEP_SECONDS = 60.0
# How often old tasks and audit entries are archived and removed, and unreferenced blobs older than
# UNREFERENCED_BLOB_DAYS (far above any transfer deadline) removed; also once at start.
RETENTION_SWEEP_SECONDS = 600.0
UNREFERENCED_BLOB_DAYS = 1.0
# How often tasks that ended without their outputs have what dead attempts published withdrawn.
WITHDRAWAL_SWEEP_SECONDS = 2.0


@click.command("serve")
@data_dir_option
@database_option
@blob_options
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=DEFAULT_PORT, show_default=True, type=click.IntRange(0, 65535))
@click.option(
    "--workers",
    default=DEFAULT_WORKERS,
    show_default=True,
    type=click.IntRange(0, 256),
    help="Worker processes (0: none).",
)
@allow_file_dir_option
@allow_url_option
@transfer_pace_options
@click.option("--max-upload-bytes", default=Settings.max_upload_bytes, show_default=True, type=click.IntRange(1))
@click.option(
    "--token-ttl",
    default=Settings.token_ttl_seconds,
    show_default=True,
    type=click.FloatRange(1),
    help="Token lifetime in seconds.",
)
@max_running_per_user_option
@max_queued_per_user_option
@click.option(
    "--keep-tasks-days",
    type=click.FloatRange(0),
    metavar="DAYS",
    help="Archive and remove tasks that ended this many days ago (default: keep for ever).",
)
@click.option(
    "--keep-audit-days",
    type=click.FloatRange(0),
    metavar="DAYS",
    help="Archive and remove audit entries this many days old (default: keep for ever).",
)
@presign_options
@service_limit_options
@metrics_options
@log_level_option
@log_format_option
def serve_command(
    data_dir: Path,
    database_url: str | None,
    blobs: BlobLocation,
    host: str,
    port: int,
    workers: int,
    allow_file_dir: tuple[Path, ...],
    egress: EgressPolicy,
    transfer_deadline: float,
    min_transfer_rate: int,
    max_upload_bytes: int,
    token_ttl: float,
    max_running_per_user: int,
    max_queued_per_user: int,
    keep_tasks_days: float | None,
    keep_audit_days: float | None,
    presign_downloads: int | None,
    s3_public_endpoint: str | None,
    metrics_token_file: Path | None,
    metrics_allow: tuple[str, ...],
    log_level: str,
    log_format: LogFormat,
    **limit_options: Any,
) -> None:
    """Run the platform: HTTP API on HOST:PORT and N worker processes over DATA_DIR."""
    from teabox.cli.data_dir import storage_refusals
    from teabox.platform.metrics_dir import share_metrics
    from teabox.service.presigned_downloads import PresignedDownloads

    listener = _listen(host, port)  # a busy port is refused before anything is made on disk
    with storage_refusals():
        presigned = PresignedDownloads.configure(blobs, presign_downloads, s3_public_endpoint)  # sends nothing
        share_metrics(data_dir)  # before anything imports prometheus_client (see teabox.platform.metrics_dir)

    import uvicorn

    from teabox.platform.auth import password_hasher
    from teabox.platform.chores import Chores
    from teabox.platform.core import Platform
    from teabox.platform.lease import REQUEUE_PERIOD_SECONDS
    from teabox.platform.storage import Storage
    from teabox.service.app import create_app
    from teabox.service.connections import guarded_protocol
    from teabox.service.metrics_access import MetricsAccess, MetricsAccessError
    from teabox.worker.fetch import TransferPolicy, Transfers

    try:
        metrics_access = MetricsAccess.configure(metrics_token_file, metrics_allow)
    except MetricsAccessError as exc:
        raise click.UsageError(str(exc)) from None
    configure_logging(log_level, log_format)
    password_hasher()
    with storage_refusals():
        storage = Storage.open(data_dir, database_url=database_url, blobs=blobs)
        storage.blobs.sweep_partial()  # what a server killed mid-upload left, before anything new is written
    settings = Settings(
        token_ttl_seconds=token_ttl,
        max_upload_bytes=max_upload_bytes,
        allowed_file_dirs=allow_file_dir,
        max_running_per_user=cap(max_running_per_user),
        max_queued_per_user=cap(max_queued_per_user),
        egress=egress,
        keep_tasks_days=keep_tasks_days,
        keep_audit_days=keep_audit_days,
    )
    platform = Platform(storage, settings)
    if not platform.has_admin():
        click.echo(
            f"note: {storage.database.display_url if database_url else storage.data_dir} has no PlatformAdmin, "
            "so nobody can log in to register users; "
            f"create one with `teabox admin create --data-dir {data_dir}"
            f"{' --database URL' if database_url else ''} --user-id admin`",
            err=True,
        )
    limits = service_limits(limit_options)
    pace = Pace(deadline_seconds=transfer_deadline, min_bytes_per_second=min_transfer_rate)
    chores = Chores()
    chores.add("partial-write sweep", PARTIAL_SWEEP_SECONDS, storage.blobs.sweep_partial)
    chores.add("free-space check", 1.0, storage.disk.check)
    chores.add("retention", RETENTION_SWEEP_SECONDS, functools.partial(_retain, storage, settings))
    # Withdrawals talk to other servers, which may be slow: they get a background job of their own.
    withdrawals = Chores()
    transfers = Transfers(TransferPolicy(allow_file_dir, egress=egress, pace=pace), storage.hosted)
    withdrawals.add("withdrawal", WITHDRAWAL_SWEEP_SECONDS, functools.partial(_withdraw, storage, transfers))
    background: list[Callable[[], object]] = [storage.queue.requeue_expired, chores.run, withdrawals.run]
    app = create_app(
        platform,
        limits=limits,
        background=background,
        period=REQUEUE_PERIOD_SECONDS,
        metrics_access=metrics_access,
        presigned_downloads=presigned,
    )
    pool = _start_pool(storage.data_dir, workers, settings, pace, database_url, blobs) if workers else None
    # The guarded protocol bounds how long and how many connections may stay open (see service.connections).
    # No proxy headers: a client could otherwise name any address and escape the per-address login limit.
    config = uvicorn.Config(
        app,
        host=host,
        port=port,
        log_level=log_level,
        log_config=None if log_format == "json" else uvicorn.config.LOGGING_CONFIG,  # json: uvicorn's lines too
        access_log=log_level == "debug",
        lifespan="on",
        http=guarded_protocol(limits),
        proxy_headers=False,
    )
    server = uvicorn.Server(config)
    click.echo(f"teabox serving http://{host}:{port} with {workers} workers, data in {storage.data_dir}", err=True)
    # uvicorn handles Ctrl-C and SIGTERM itself, then re-raises the signal to the handler that was
    # installed before it; this one lets the pool stop in an orderly way instead of dying at once.
    for stop_signal in (signal.SIGINT, signal.SIGTERM):
        signal.signal(stop_signal, lambda *_: None)
    try:
        server.run(sockets=[listener])
    finally:
        if pool is not None:
            pool.stop()
        storage.close()


def _listen(host: str, port: int) -> socket.socket:
    """Bind before anything else starts or is announced, so a busy port is the only thing said."""
    try:
        family = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0][0]
        return socket.create_server((host, port), family=family, backlog=2048)
    except OSError as exc:
        raise click.ClickException(
            f"cannot listen on {host}:{port} ({exc.strerror or exc}); is another server running there? "
            "stop it or choose another --port"
        ) from None


def _retain(storage: Storage, settings: Settings) -> None:
    from teabox.platform.retention import collect

    collected = collect(
        storage,
        tasks_older_than_days=settings.keep_tasks_days,
        audit_older_than_days=settings.keep_audit_days,
        blobs_older_than_days=UNREFERENCED_BLOB_DAYS,
    )
    if collected.archives or collected.blobs:
        logging.getLogger("teabox.retention").info("%s", collected.summary())


def _withdraw(storage: Storage, transfers: Transfers) -> None:
    from teabox.worker.withdrawal import withdraw_unrecorded_outputs

    withdraw_unrecorded_outputs(storage.database, transfers)


def _start_pool(
    data_dir: Path, workers: int, settings: Settings, pace: Pace, database_url: str | None, blobs: BlobLocation
) -> WorkerPool:
    from teabox.worker.pool import start_pool

    return start_pool(data_dir, workers, settings, pace=pace, database_url=database_url, blobs=blobs)
