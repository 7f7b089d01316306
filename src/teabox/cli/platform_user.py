"""``teabox user ...``: register, update, reset, delete and list users."""

from __future__ import annotations

import click

from teabox.cli.platform_login import read_password
from teabox.cli.platform_session import echo_json, load_session, open_client, platform_command
from teabox.client import Client
from teabox.platform.errors import PlatformError
from teabox.platform.roles import parse_role


def _check_role(role: str, attribute: str) -> None:
    """Refuse a role the server would refuse before asking for a password, naming the options."""
    try:
        parse_role(role, attribute)
    except PlatformError as exc:
        raise click.BadParameter(exc.message, param_hint="--role/--attribute") from None


@click.group("user")
def user_group() -> None:
    """Manage platform users (who may manage whom follows the caller's role)."""


@user_group.command("register")
@click.argument("user_id")
@click.option("--role", required=True, help="PlatformAdmin, FunctionOwner, DataOwner or DataOwnerManager.")
@click.option("--attribute", default="", help="The role's attribute, e.g. the X of DataOwner-X.")
@click.option("--password-stdin", is_flag=True, help="Read the new user's password from stdin.")
@platform_command
def register_command(user_id: str, role: str, attribute: str, password_stdin: bool) -> None:
    """Register a new user."""
    _check_role(role, attribute)
    password = read_password(password_stdin, f"Password for {user_id}")
    with open_client() as client:
        client.user_register(user_id, password, role, attribute)
    click.echo(f"Registered {user_id}.", err=True)


@user_group.command("update")
@click.argument("user_id")
@click.option("--role", required=True)
@click.option("--attribute", default="")
@platform_command
def update_command(user_id: str, role: str, attribute: str) -> None:
    """Change a user's role and attribute (nobody sets another user's password)."""
    _check_role(role, attribute)
    with open_client() as client:
        client.user_update(user_id, role, attribute)
    click.echo(f"Updated {user_id}.", err=True)


@user_group.command("change-password")
@click.option("--password-stdin", is_flag=True)
@platform_command
def change_password_command(password_stdin: bool) -> None:
    """Change your own password (your other sessions end)."""
    password = read_password(password_stdin, "New password")
    with open_client() as client:
        client.user_change_password(password)
    click.echo("Password changed.", err=True)


@user_group.command("reset-password")
@click.argument("user_id")
@platform_command
def reset_password_command(user_id: str) -> None:
    """Lock a user's account: their sessions end and no password works until they redeem a reset token."""
    with open_client() as client:
        client.reset_user_password(user_id)
    click.echo(f"Locked {user_id}; the operator issues them a reset token (teabox admin reset-password).", err=True)


@user_group.command("redeem-reset")
@click.argument("user_id")
@click.option("--url", help="The server (default: $TEABOX_URL or the saved one).")
@click.option(
    "--stdin", "from_stdin", is_flag=True, help="Read the reset token, then the new password, from stdin lines."
)
@platform_command
def redeem_reset_command(user_id: str, url: str | None, from_stdin: bool) -> None:
    """Set your new password with the one-time reset token the operator gave you."""
    reset_token = read_password(from_stdin, "Reset token")
    password = read_password(from_stdin, "New password")
    with Client(url or load_session().url) as client:
        client.user_redeem_reset(user_id, reset_token, password)
    click.echo(f"Password set for {user_id}; log in with teabox login.", err=True)


@user_group.command("delete")
@click.argument("user_id")
@platform_command
def delete_command(user_id: str) -> None:
    """Delete a user."""
    with open_client() as client:
        client.delete_user(user_id)
    click.echo(f"Deleted {user_id}.", err=True)


@user_group.command("list")
@click.option(
    "--attribute", "user_id", default=None, help="For a DataOwnerManager-X: the attribute X whose users to list."
)
@platform_command
def list_command(user_id: str | None) -> None:
    """List user ids, one per line."""
    with open_client() as client:
        for uid in client.list_users(user_id):
            click.echo(uid)


@click.command("audit")
@click.option("--message", default="", help="Only entries whose action, object or message contains this.")
@click.option("--user", "user_id", default=None, help="Only this user's calls.")
@click.option("--action", default=None, help="Only this API call, e.g. approve_task.")
@click.option("--limit", default=100, show_default=True)
@platform_command
def audit_command(message: str, user_id: str | None, action: str | None, limit: int) -> None:
    """Show the audit log, newest first (PlatformAdmin only)."""
    with open_client() as client:
        echo_json([e.to_dict() for e in client.query_audit_logs(message, limit, user_id=user_id, action=action)])
