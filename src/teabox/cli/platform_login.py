"""``teabox login``, ``teabox logout`` and ``teabox whoami``."""

from __future__ import annotations

import sys

import click

from teabox.cli.platform_session import (
    Session,
    echo_json,
    load_session,
    open_client,
    reports_errors,
    save_session,
)
from teabox.client import Client


def read_password(from_stdin: bool, prompt: str = "Password") -> str:
    """A password from stdin (for scripts) or an interactive prompt that does not echo."""
    if from_stdin:
        return sys.stdin.readline().rstrip("\n")
    return str(click.prompt(prompt, hide_input=True))


@click.command("login")
@click.argument("user_id")
@click.option("--url", help="The server, e.g. http://127.0.0.1:7777 (default: $TEABOX_URL or the saved one).")
@click.option("--password-stdin", is_flag=True, help="Read the password from stdin instead of prompting.")
@reports_errors
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
    click.echo(f"Logged in to {url} as {user_id} until {client.token_expires_at} (session saved in {path}).", err=True)


@click.command("logout")
@reports_errors
def logout_command() -> None:
    """Revoke the saved token on the server and forget it."""
    session = load_session()
    if session.token:
        with open_client() as client:
            client.user_logout()
    save_session(Session(url=session.url))
    click.echo("Logged out.", err=True)


@click.command("whoami")
@reports_errors
def whoami_command() -> None:
    """Show the logged-in user's id, role and attribute."""
    with open_client() as client:
        echo_json(client.get_current_user())
