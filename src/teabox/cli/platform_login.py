"""``teabox login``, ``teabox logout``, ``teabox whoami`` and ``teabox ping``."""

from __future__ import annotations

import sys
import time

import click

from teabox.cli.platform_session import (
    Session,
    current_profile,
    echo_json,
    load_session,
    open_client,
    platform_command,
    save_session,
)
from teabox.client import Client
from teabox.client.errors import ConnectionFailed

PING_INTERVAL = 0.2


def read_password(from_stdin: bool, prompt: str = "Password") -> str:
    """A password from stdin (for scripts) or an interactive prompt that does not echo."""
    if from_stdin:
        return sys.stdin.readline().rstrip("\n")
    return str(click.prompt(prompt, hide_input=True))


@click.command("login")
@click.argument("user_id")
@click.option("--url", help="The server, e.g. http://127.0.0.1:7777 (default: $TEABOX_URL or the saved one).")
@click.option("--password-stdin", is_flag=True, help="Read the password from stdin instead of prompting.")
@platform_command
def login_command(user_id: str, url: str | None, password_stdin: bool) -> None:
    """Log in and remember the server and token for the next commands."""
    session = load_session()
    url = url or session.url
    password = read_password(password_stdin)
    with Client(url) as client:
        client.user_login(user_id, password)
        path = save_session(
            Session(url=client.url, user_id=user_id, token=client.token, expires_at=client.token_expires_at)
        )
    click.echo(
        f"Logged in to {url} as {user_id} until {client.token_expires_at} "
        f"(profile '{current_profile()}' saved in {path}).",
        err=True,
    )


@click.command("logout")
@platform_command
def logout_command() -> None:
    """Revoke the saved token on the server and forget it."""
    session = load_session()
    if session.token:
        with open_client() as client:
            client.user_logout()
    save_session(None)
    click.echo(f"Logged out (profile '{current_profile()}').", err=True)


@click.command("whoami")
@platform_command
def whoami_command() -> None:
    """Show the logged-in user's id, role and attribute."""
    with open_client() as client:
        echo_json(client.get_current_user())


@click.command("ping")
@click.option("--url", help="The server (default: $TEABOX_URL or the saved one).")
@click.option("--wait", default=0.0, show_default=True, type=click.FloatRange(0), help="Retry this many seconds.")
@platform_command
def ping_command(url: str | None, wait: float) -> None:
    """Check that the server answers; with --wait, until it does (for scripts that just started it)."""
    url = url or load_session().url
    deadline = time.monotonic() + wait
    with Client(url) as client:
        while True:
            try:
                client.health()
                break
            except ConnectionFailed:
                if time.monotonic() >= deadline:
                    raise
                time.sleep(PING_INTERVAL)
    click.echo(f"{url} answers.", err=True)
