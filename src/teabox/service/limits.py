"""The service's own defences against floods, oversized bodies and slow clients, with their defaults.

``teabox serve`` sets each from a flag (see docs/http-api.md, "Limits").
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ServiceLimits:
    # Bytes of a JSON body, counted as they arrive (chunked bodies too); register_function and
    # update_function may carry an inline payload and get the payload limit instead.
    max_request_bytes: int = 1024 * 1024
    # Failed logins allowed per user id and per client address within the window, before 429.
    login_failures_per_user: int = 10
    login_failures_per_address: int = 100
    login_window_seconds: int = 300
    # Long-polls (get_task_result with a timeout) waiting at once: in all (503 beyond) and per user (429 beyond).
    max_waits: int = 1000
    max_waits_per_user: int = 50
    # Connections: seconds to send a request's headers, seconds between two pieces of its body,
    # bytes of headers, and connections open at once.
    header_timeout: float = 10.0
    body_timeout: float = 30.0
    max_header_bytes: int = 64 * 1024
    max_connections: int = 1000

    def __post_init__(self) -> None:
        for name, value in vars(self).items():
            if value <= 0:
                raise ValueError(f"{name} must be positive, not {value}")
