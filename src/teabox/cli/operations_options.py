"""Flags for running teabox under an operator's tools: the log format, and who may read ``/metrics``."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from teabox import config
from teabox.logs import LOG_FORMATS

F = TypeVar("F", bound=Callable[..., Any])

log_format_option = click.option(
    "--log-format",
    type=click.Choice(LOG_FORMATS),
    default="text",
    envvar=config.LOG_FORMAT.name,
    show_default=True,
    show_envvar=True,
    help="text, or json: one JSON object per line, lines about a task carrying task_id, attempt and worker_id.",
)


def metrics_options(command: F) -> F:
    command = click.option(
        "--metrics-allow",
        "metrics_allow",
        multiple=True,
        metavar="CIDR",
        help="Clients at this address or network may read /metrics without the token (repeatable). "
        "Never the load balancer's address: it forwards everyone's requests.",
    )(command)
    return click.option(
        "--metrics-token-file",
        type=click.Path(dir_okay=False, path_type=Path),
        envvar=config.METRICS_TOKEN_FILE.name,
        show_envvar=True,
        help="A file (mode 0600) holding the token that reads /metrics as 'Authorization: Bearer TOKEN'. "
        "Without it or --metrics-allow, nobody may read /metrics.",
    )(command)
