"""Where the platform commands find the server and the login token.

``teabox login`` writes the server URL, user id and token to a small JSON file
(``$TEABOX_CONFIG``, else ``~/.config/teabox/session.json``, mode 0600) so the
next commands need neither. The file holds one session per named profile
(``--profile alice`` or ``TEABOX_PROFILE=alice``; ``default`` otherwise), so
one shell can act as several users without logging in again. ``TEABOX_URL``
and ``TEABOX_TOKEN`` override the file, which is what scripts and CI use. This
module also turns SDK errors into one-line command errors, so no command
prints a traceback for a refusal.
"""

from __future__ import annotations

import fcntl
import functools
import json
import os
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, ParamSpec, TypeVar

import click

from teabox import config
from teabox.client import Client
from teabox.client.errors import ApiError, ClientError, TaskCanceled, TaskFailed, TaskWaitTimeout
from teabox.errors import TeaboxError

P = ParamSpec("P")
R = TypeVar("R")

# Exit statuses: click uses 1 for errors and 2 for usage errors; these tell a script what happened.
EXIT_REFUSED = 3
EXIT_TASK_FAILED = 4
EXIT_TASK_CANCELED = 5
EXIT_WAIT_TIMEOUT = 6
EXIT_INTERRUPTED = 130  # Ctrl-C, as shells report it

_PROFILE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.@-]{0,63}$")
_PROFILE_KEY = "teabox.profile"


@dataclass
class Session:
    url: str = config.DEFAULT_URL
    user_id: str | None = None
    token: str | None = None
    expires_at: str | None = None


def session_path() -> Path:
    configured = config.CONFIG.get()
    if configured:
        return Path(configured)
    base = config.XDG_CONFIG_HOME.get() or Path.home() / ".config"
    return Path(base) / "teabox" / "session.json"


def _remember_profile(ctx: click.Context, param: click.Parameter, value: str | None) -> None:
    if value is None:
        return
    if not _PROFILE_NAME.match(value):
        raise click.BadParameter(
            f"{value!r} is not a profile name (letters, digits, '_', '.', '@', '-'; at most 64)", ctx, param
        )
    ctx.meta[_PROFILE_KEY] = value


profile_option = click.option(
    "--profile",
    envvar=config.PROFILE.name,
    default=None,
    expose_value=False,
    is_eager=True,
    callback=_remember_profile,
    help="Which saved session to use (default: $TEABOX_PROFILE, else 'default').",
)


def current_profile() -> str:
    """The profile chosen by ``--profile`` or ``TEABOX_PROFILE`` for the running command."""
    ctx = click.get_current_context(silent=True)
    return str(ctx.meta.get(_PROFILE_KEY, config.DEFAULT_PROFILE)) if ctx is not None else config.DEFAULT_PROFILE


def _read_profiles(path: Path) -> dict[str, dict[str, Any]]:
    if not path.exists():
        return {}
    try:
        data = json.loads(path.read_text())
    except ValueError as exc:
        raise click.ClickException(f"{path} is not valid JSON ({exc}); delete it and log in again") from None
    if not isinstance(data, dict):
        raise click.ClickException(f"{path} does not hold teabox sessions; delete it and log in again")
    profiles = data.get("profiles")
    if isinstance(profiles, dict):
        return profiles
    return {config.DEFAULT_PROFILE: data}  # the one-session file of earlier versions


def load_session() -> Session:
    """The current profile's saved session with the environment's overrides applied."""
    saved = _read_profiles(session_path()).get(current_profile(), {})
    session = Session(**{k: v for k, v in saved.items() if k in Session.__dataclass_fields__})
    session.url = config.URL.get() or session.url
    session.token = config.TOKEN.get() or session.token
    return session


@contextmanager
def _locked(path: Path) -> Iterator[None]:
    """Serialise read-modify-write of the session file, so two logins at once both stay saved."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path.with_name(path.name + ".lock"), "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield


def save_session(session: Session | None) -> Path:
    """Save (or with ``None`` forget) the current profile's session; other profiles are kept."""
    path = session_path()
    with _locked(path):
        profiles = _read_profiles(path)
        if session is None:
            profiles.pop(current_profile(), None)
        else:
            profiles[current_profile()] = asdict(session)
        staged = path.with_name(f".{path.name}.{os.getpid()}")
        fd = os.open(staged, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            json.dump({"profiles": profiles}, f, indent=2)
        os.replace(staged, path)
    return path


def open_client(*, require_login: bool = True) -> Client:
    session = load_session()
    if require_login and not session.token:
        profile = current_profile()
        hint = "" if profile == config.DEFAULT_PROFILE else f" --profile {profile}"
        raise click.ClickException(f"not logged in: run `teabox login USER_ID{hint}` or set TEABOX_TOKEN")
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
        except TaskCanceled as exc:
            click.echo(f"Error: {exc}", err=True)
            raise SystemExit(EXIT_TASK_CANCELED) from None
        except TaskWaitTimeout as exc:
            click.echo(
                f"Error: {exc}; it goes on: `teabox task wait {exc.task_id}` waits again, "
                f"`teabox task cancel {exc.task_id}` stops it",
                err=True,
            )
            raise SystemExit(EXIT_WAIT_TIMEOUT) from None
        except ApiError as exc:
            click.echo(f"Error: {exc.message} ({exc.status} {exc.code})", err=True)
            raise SystemExit(EXIT_REFUSED) from None
        except (ClientError, TeaboxError) as exc:
            raise click.ClickException(str(exc)) from None

    return wrapper


def platform_command(command: Callable[P, R]) -> Callable[P, R]:
    """What every command that talks to the server has: ``--profile`` and one-line errors."""
    return profile_option(reports_errors(command))


def echo_json(value: Any) -> None:
    """Print a result as indented JSON (records via their ``to_dict``)."""
    if hasattr(value, "to_dict"):
        value = value.to_dict()
    click.echo(json.dumps(value, indent=2, sort_keys=False))
