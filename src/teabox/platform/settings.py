"""The operator's choices for one platform instance, with safe defaults."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from teabox.abi.check import DEFAULT_MAX_PAYLOAD_BYTES
from teabox.platform.egress import EgressPolicy

# Worker processes `teabox serve` and `teabox worker` start unless told otherwise.
DEFAULT_WORKERS = 2


@dataclass(frozen=True)
class Settings:
    token_ttl_seconds: float = 24 * 3600.0
    max_upload_bytes: int = 256 * 1024 * 1024
    max_payload_bytes: int = DEFAULT_MAX_PAYLOAD_BYTES
    # file:// URLs are accepted only under these directories; none means file:// is refused.
    allowed_file_dirs: tuple[Path, ...] = field(default_factory=tuple)
    # http(s) URLs may reach globally routable addresses, and what these rules allow (--allow-url).
    egress: EgressPolicy = field(default_factory=EgressPolicy)
    max_wait_seconds: float = 60.0
    # Per-user caps (None: no cap). Queued: tasks a user may have waiting in the queue, checked by
    # invoke_task. Running: tasks of one user that workers run at once, checked by the claim.
    max_queued_per_user: int | None = 100
    max_running_per_user: int | None = None
    # Retention (teabox.platform.retention): ended tasks and audit entries older than this many days are
    # archived and removed by the service's periodic sweep; None keeps them for ever.
    keep_tasks_days: float | None = None
    keep_audit_days: float | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "allowed_file_dirs", tuple(Path(d).resolve() for d in self.allowed_file_dirs))
