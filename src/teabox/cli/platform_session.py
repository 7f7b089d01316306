"""Where the platform commands find the server and the login token.

``teabox login`` writes the server URL, user id and token to a small JSON file
(``$TEABOX_CONFIG``, else ``~/.config/teabox/session.json``, mode 0600) so the
next commands need neither. ``TEABOX_URL`` and ``TEABOX_TOKEN`` override the
file, which is what scripts and CI use. This module also turns SDK errors into
one-line command errors, so no command prints a traceback for a refusal.
"""

from __future__ import annotations

import functools
import json
import os
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, ParamSpec, TypeVar

import click

from teabox.client import Client
from teabox.client.errors import ApiError, ClientError, TaskFailed
from teabox.client.transport import DEFAULT_URL
from teabox.errors import TeaboxError

P = ParamSpec("P")
R = TypeVar("R")

# Exit status when the server refused a call; click uses 1 for usage errors and 2 for bad options.
EXIT_REFUSED = 3
EXIT_TASK_FAILED = 4


@dataclass
class Session:
    url: str = DEFAULT_URL
    user_id: str | None = None
    token: str | None = None
    expires_at: str | None = None


def session_path() -> Path:
    configured = os.environ.get("TEABOX_CONFIG")
    if configured:
        return Path(configured)
    base = os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config"
    return Path(base) / "teabox" / "session.json"


def load_session() -> Session:
    """The saved session with the environment's overrides applied."""
    session = Session()
    path = session_path()
    if path.exists():
        try:
            data = json.loads(path.read_text())
        except ValueError as exc:
            raise click.ClickException(f"{path} is not valid JSON ({exc}); delete it and log in again") from None
        session = Session(**{k: v for k, v in data.items() if k in Session.__dataclass_fields__})
    if os.environ.get("TEABOX_URL"):
        session.url = os.environ["TEABOX_URL"]
    if os.environ.get("TEABOX_TOKEN"):
        session.token = os.environ["TEABOX_TOKEN"]
    return session


def save_session(session: Session) -> Path:
    path = session_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        json.dump(asdict(session), f, indent=2)
    return path


def open_client(*, require_login: bool = True) -> Client:
    session = load_session()
    if require_login and not session.token:
        raise click.ClickException("not logged in: run `teabox login USER_ID` or set TEABOX_TOKEN")
    client = Client(session.url, token=session.token)
    client.user_id = session.user_id
    return client


def reports_errors(command: Callable[P, R]) -> Callable[P, R]:
    """Turn SDK and teabox errors into a short message and a distinct exit status."""

    @functools.wraps(command)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return command(*args, **kwargs)
        except TaskFailed as exc:
            click.echo(f"Error: {exc}", err=True)
            raise SystemExit(EXIT_TASK_FAILED) from None
        except ApiError as exc:
            click.echo(f"Error: {exc.message} ({exc.status} {exc.code})", err=True)
            raise SystemExit(EXIT_REFUSED) from None
        except (ClientError, TeaboxError) as exc:
            raise click.ClickException(str(exc)) from None

    return wrapper


def echo_json(value: Any) -> None:
    """Print a result as indented JSON (records via their ``to_dict``)."""
    if hasattr(value, "to_dict"):
        value = value.to_dict()
    click.echo(json.dumps(value, indent=2, sort_keys=False))
