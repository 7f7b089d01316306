"""The per-user caps of ``teabox serve`` and ``teabox worker``; 0 means no cap."""

from __future__ import annotations

import click

from teabox.platform.settings import Settings

max_running_per_user_option = click.option(
    "--max-running-per-user",
    default=0,
    show_default=True,
    type=click.IntRange(0),
    help="Tasks of one user that workers run at the same time (0: no cap). "
    "Set it below the number of workers so that no user can hold every worker.",
)
max_queued_per_user_option = click.option(
    "--max-queued-per-user",
    default=Settings.max_queued_per_user,
    show_default=True,
    type=click.IntRange(0),
    help="Tasks one user may have waiting in the queue; invoke_task refuses more (0: no cap).",
)


def cap(value: int) -> int | None:
    """A flag's value as a setting: 0 means no cap."""
    return value or None
