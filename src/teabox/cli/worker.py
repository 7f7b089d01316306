"""``teabox worker``: worker processes without the HTTP service.

Beside the data directory (``--data-dir``), for running the workers apart
from ``teabox serve --workers 0``, they share only the data directory with
the service. On another machine (``--url URL --token-file FILE``), they talk
to the API servers with a worker token and hold no platform secret; the data
directory is then only where their staging areas live.
"""

from __future__ import annotations

import signal
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING

import click

from teabox import config
from teabox.cli.admin import (
    allow_file_dir_option,
    allow_url_option,
    data_dir_option,
    database_option,
    log_level_option,
    transfer_pace_options,
)
from teabox.cli.blob_options import blob_options
from teabox.cli.fairness_options import cap, max_running_per_user_option
from teabox.cli.operations_options import log_format_option
from teabox.logs import LogFormat, configure_logging
from teabox.platform.blob_location import BlobLocation
from teabox.platform.egress import EgressPolicy
from teabox.platform.lease import DEFAULT_LEASE_SECONDS, HEARTBEATS_PER_LEASE
from teabox.platform.settings import DEFAULT_WORKERS

if TYPE_CHECKING:
    from teabox.worker.settings import RemoteEndpoint


@click.command("worker")
@data_dir_option
@database_option
@blob_options
@click.option(
    "--workers", default=DEFAULT_WORKERS, show_default=True, type=click.IntRange(1, 256), help="Worker processes."
)
@allow_file_dir_option
@allow_url_option
@transfer_pace_options
@click.option(
    "--lease",
    default=DEFAULT_LEASE_SECONDS,
    show_default=True,
    type=click.FloatRange(1),
    help=f"Task lease in seconds (heartbeats come {HEARTBEATS_PER_LEASE} times per lease).",
)
@max_running_per_user_option
@click.option(
    "--url",
    envvar=config.WORKER_URL.name,
    help="Run as a remote worker of the API servers at this URL (needs --token-file; env TEABOX_WORKER_URL), "
    "not on DATA_DIR's database.",
)
@click.option(
    "--token-file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="A file holding the worker token (`teabox admin worker-token create`); readable by this user only.",
)
@log_level_option
@log_format_option
def worker_command(
    data_dir: Path,
    database_url: str | None,
    blobs: BlobLocation,
    workers: int,
    allow_file_dir: tuple[Path, ...],
    egress: EgressPolicy,
    transfer_deadline: float,
    min_transfer_rate: int,
    lease: float,
    max_running_per_user: int,
    url: str | None,
    token_file: Path | None,
    log_level: str,
    log_format: LogFormat,
) -> None:
    """Run N worker processes on DATA_DIR's queue (or, with --url, the API servers' queue) until Ctrl-C or SIGTERM."""
    from teabox.cli.data_dir import storage_refusals
    from teabox.platform.metrics_dir import share_metrics

    with storage_refusals():
        share_metrics(data_dir)  # the runs these workers record count in the /metrics of a server beside them
    from teabox.worker.fetch import TransferPolicy
    from teabox.worker.pacing import Pace
    from teabox.worker.pool import WorkerPool
    from teabox.worker.settings import WorkerSettings

    configure_logging(log_level, log_format)
    remote = _remote_endpoint(url, token_file)
    settings = WorkerSettings(
        data_dir=data_dir,
        blobs=blobs,
        transfers=TransferPolicy(
            allowed_dirs=allow_file_dir,
            egress=egress,
            pace=Pace(deadline_seconds=transfer_deadline, min_bytes_per_second=min_transfer_rate),
        ),
        lease_seconds=lease,
        heartbeat_seconds=lease / HEARTBEATS_PER_LEASE,
        max_running_per_user=cap(max_running_per_user),
        database_url=database_url,
        remote=remote,
    )
    with storage_refusals():
        pool = WorkerPool(settings, workers).start()
    plural = "es" if workers != 1 else ""
    source = f"the API servers at {remote.url}" if remote else str(settings.data_dir)
    click.echo(f"teabox worker: {workers} worker process{plural} on {source} (Ctrl-C stops)", err=True)

    def _request_stop(_signum: int, _frame: FrameType | None) -> None:
        pool.request_stop()

    signal.signal(signal.SIGINT, _request_stop)
    signal.signal(signal.SIGTERM, _request_stop)
    pool.wait()
    pool.stop()


def _remote_endpoint(url: str | None, token_file: Path | None) -> RemoteEndpoint | None:
    """The API servers and the worker token, checked against them now so that a wrong one stops the start."""
    from teabox.worker.remote import PlatformRefused, PlatformUnreachable, RemotePlatform
    from teabox.worker.settings import RemoteEndpoint

    if url is None and token_file is None:
        return None
    if url is None or token_file is None:
        raise click.UsageError("a remote worker needs both --url and --token-file")
    if not url.startswith(("http://", "https://")):
        raise click.BadParameter(f"'{url}' is not an http(s) URL", param_hint="--url")
    try:
        mode = token_file.stat().st_mode
        token = token_file.read_text().strip()
    except (OSError, UnicodeDecodeError) as exc:
        raise click.BadParameter(f"cannot read {token_file}: {exc}", param_hint="--token-file") from None
    if mode & 0o077:
        raise click.BadParameter(
            f"{token_file} is open to other users (mode {mode & 0o777:04o}); fix it with: chmod 600 {token_file}",
            param_hint="--token-file",
        )
    if not token:
        raise click.BadParameter(f"{token_file} is empty", param_hint="--token-file")
    endpoint = RemoteEndpoint(url, token)
    platform = RemotePlatform(endpoint)
    try:
        identity = platform.identity()
    except PlatformRefused as exc:
        raise click.ClickException(f"{url} refused the worker token in {token_file}: {exc}") from None
    except PlatformUnreachable as exc:
        raise click.ClickException(f"cannot reach the API servers: {exc}") from None
    finally:
        platform.close()
    click.echo(f"teabox worker: worker token {identity.token_id} ('{identity.name}') accepted by {url}", err=True)
    return endpoint
