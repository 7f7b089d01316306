"""``teabox worker``: worker processes without the HTTP service.

For running the workers apart from ``teabox serve --workers 0`` (for example
under their own service manager); they share only the data directory with
the service.
"""

from __future__ import annotations

import signal
from pathlib import Path
from types import FrameType

import click

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
    log_level: str,
    log_format: LogFormat,
) -> None:
    """Run N worker processes on DATA_DIR's queue until Ctrl-C or SIGTERM."""
    from teabox.cli.data_dir import storage_refusals
    from teabox.platform.metrics_dir import share_metrics

    with storage_refusals():
        share_metrics(data_dir)  # the runs these workers record count in the /metrics of a server beside them
    from teabox.worker.fetch import TransferPolicy
    from teabox.worker.pacing import Pace
    from teabox.worker.pool import WorkerPool
    from teabox.worker.settings import WorkerSettings

    configure_logging(log_level, log_format)
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
    )
    with storage_refusals():
        pool = WorkerPool(settings, workers).start()
    plural = "es" if workers != 1 else ""
    click.echo(f"teabox worker: {workers} worker process{plural} on {settings.data_dir} (Ctrl-C stops)", err=True)

    def _request_stop(_signum: int, _frame: FrameType | None) -> None:
        pool.request_stop()

    signal.signal(signal.SIGINT, _request_stop)
    signal.signal(signal.SIGTERM, _request_stop)
    pool.wait()
    pool.stop()
