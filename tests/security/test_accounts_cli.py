"""The reset as an operator and a user do it from a shell: a manager locks the account, the operator issues a
token on the machine, and the user sets a password only they know with it."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner
from support.authz import refused
from support.platform_api import login

from teabox.cli.main import main
from teabox.client import Client
from teabox.client.errors import Unauthenticated
from teabox.testing.local_server import LocalServer


def test_lock_issue_and_redeem_from_the_command_line(
    platform_server: LocalServer, admin_client: Client, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TEABOX_CONFIG", str(tmp_path / "session.json"))
    monkeypatch.delenv("TEABOX_TOKEN", raising=False)
    monkeypatch.setenv("TEABOX_URL", platform_server.url)
    runner = CliRunner()

    def teabox(*args: str, stdin: str | None = None) -> str:
        result = runner.invoke(main, list(args), input=stdin, catch_exceptions=False)
        assert result.exit_code == 0, f"teabox {' '.join(args)}: {result.output}"
        return result.stdout.strip()

    user_id = f"cli-reset-{tmp_path.name[-8:]}"
    admin_client.user_register(user_id, "the first password", "DataOwner", "cli-reset")
    teabox("login", platform_server.admin_id, "--password-stdin", stdin=platform_server.admin_password + "\n")
    assert teabox("user", "reset-password", user_id) == ""  # nothing on stdout: no password, no token
    with refused(Unauthenticated, "invalid_credentials"):
        login(platform_server, user_id, "the first password")

    data_dir = str(platform_server.data_dir)
    reset_token = teabox("admin", "reset-password", "--data-dir", data_dir, "--user-id", user_id)
    teabox("user", "redeem-reset", user_id, "--stdin", stdin=f"{reset_token}\nonly the user knows\n")
    with login(platform_server, user_id, "only the user knows") as user:
        assert user.get_current_user().user_id == user_id
    result = runner.invoke(main, ["user", "redeem-reset", user_id, "--stdin"], input=f"{reset_token}\nagain!!!\n")
    assert result.exit_code != 0 and "reset token" in result.output
