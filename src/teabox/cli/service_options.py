"""``teabox serve``'s flags for the service's defences (see :class:`teabox.service.limits.ServiceLimits`)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import click

from teabox.service.limits import ServiceLimits

F = TypeVar("F", bound=Callable[..., Any])

_DEFAULTS = ServiceLimits()
_OPTIONS = [
    ("--max-request-bytes", "max_request_bytes", click.IntRange(1), "Bytes of a JSON call body (counted as read)."),
    (
        "--login-failures-per-user",
        "login_failures_per_user",
        click.IntRange(1),
        "Failed logins per user id per window.",
    ),
    (
        "--login-failures-per-address",
        "login_failures_per_address",
        click.IntRange(1),
        "Failed logins per client address per window.",
    ),
    ("--login-window", "login_window_seconds", click.IntRange(1), "Seconds over which failed logins are counted."),
    ("--max-waits", "max_waits", click.IntRange(1), "Long-polls waiting at once, in all (503 beyond)."),
    ("--max-waits-per-user", "max_waits_per_user", click.IntRange(1), "Long-polls waiting at once per user (429)."),
    ("--header-timeout", "header_timeout", click.FloatRange(min=0, min_open=True), "Seconds to send request headers."),
    (
        "--body-timeout",
        "body_timeout",
        click.FloatRange(min=0, min_open=True),
        "Longest silence (seconds) between two pieces of a request body.",
    ),
    ("--max-header-bytes", "max_header_bytes", click.IntRange(1), "Bytes of a request's headers."),
    ("--max-connections", "max_connections", click.IntRange(1), "Open connections; idle or slow ones make room."),
]


def service_limit_options(command: F) -> F:
    for flag, name, kind, help_text in reversed(_OPTIONS):
        command = click.option(
            flag, name, type=kind, default=getattr(_DEFAULTS, name), show_default=True, help=help_text
        )(command)
    return command


def service_limits(options: dict[str, Any]) -> ServiceLimits:
    """The limits given by the flags among a command's ``options``."""
    return ServiceLimits(**{name: options[name] for _, name, _, _ in _OPTIONS})
