"""How a worker process behaves: where its data lives, what it may touch, how it keeps its lease."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from teabox.platform.blob_location import BlobLocation
from teabox.platform.lease import DEFAULT_HEARTBEAT_SECONDS, DEFAULT_LEASE_SECONDS, DEFAULT_MAX_ATTEMPTS
from teabox.platform.settings import Settings
from teabox.worker.fetch import TransferPolicy
from teabox.worker.pacing import Pace


@dataclass(frozen=True)
class RemoteEndpoint:
    """The API servers a remote worker talks to, and the worker token it shows them (never printed)."""

    url: str
    token: str = field(repr=False)


@dataclass(frozen=True)
class WorkerSettings:
    """Everything a worker process needs, picklable so that it crosses into spawned processes.

    The lease is short and the heartbeat frequent so that a worker that dies
    without a supervisor watching (another machine) is noticed within
    seconds (``LOST_WORKER_BOUND_SECONDS`` in :mod:`teabox.platform.lease`);
    the supervisor notices its own children at once. Six heartbeats per lease
    leave a run its lease even when a few heartbeats are late.
    """

    data_dir: Path
    blobs: BlobLocation = field(default_factory=BlobLocation)  # default: the data directory's blob folder
    transfers: TransferPolicy = field(default_factory=TransferPolicy)
    lease_seconds: float = DEFAULT_LEASE_SECONDS
    heartbeat_seconds: float = DEFAULT_HEARTBEAT_SECONDS
    max_attempts: int = DEFAULT_MAX_ATTEMPTS
    module_cache_dir: Path | None = None  # None: the executor's default (TEABOX_CACHE_DIR or ~/.cache/teabox)
    max_running_per_user: int | None = None  # claim no task of a user who has this many running (None: no cap)
    database_url: str | None = None  # --database (None: the data directory's SQLite file)
    # Set for a worker on another machine: ``data_dir`` is then only its own staging directory.
    remote: RemoteEndpoint | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "data_dir", Path(self.data_dir).resolve())
        if not 0 < self.heartbeat_seconds < self.lease_seconds:
            raise ValueError(
                f"the heartbeat interval ({self.heartbeat_seconds} s) must be positive and shorter than "
                f"the lease ({self.lease_seconds} s)"
            )
        if self.max_attempts < 1:
            raise ValueError(f"max_attempts must be at least 1, not {self.max_attempts}")

    @classmethod
    def for_platform(
        cls, data_dir: Path, settings: Settings, *, pace: Pace | None = None, **overrides: object
    ) -> WorkerSettings:
        """Worker settings that obey the operator's platform settings (``file://`` directories, egress rules,
        per-user cap)."""
        policy = TransferPolicy(allowed_dirs=settings.allowed_file_dirs, egress=settings.egress, pace=pace or Pace())
        return cls(
            data_dir=Path(data_dir),
            transfers=policy,
            max_running_per_user=settings.max_running_per_user,
            **overrides,  # type: ignore[arg-type]
        )
