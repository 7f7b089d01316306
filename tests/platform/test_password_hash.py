"""The cost of password hashes: RFC 9106's by default, argon2's cheapest only when TEABOX_PASSWORD_HASH asks.

The suite itself runs with ``cheapest`` (tests/conftest.py): it registers and logs in thousands of users, and
each default hash costs a sixth of a second of CPU. These tests check what a deployment gets without it.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from argon2 import extract_parameters, profiles

from teabox.config import ConfigError
from teabox.platform import auth
from teabox.testing.local_server import LocalServer, teabox_command


@pytest.fixture
def fresh_hasher() -> Iterator[None]:
    """The hasher is chosen once per process: choose again under the test's environment, and again after it."""
    auth.password_hasher.cache_clear()
    yield
    auth.password_hasher.cache_clear()


@pytest.mark.usefixtures("fresh_hasher")
def test_without_the_variable_a_password_gets_rfc_9106s_cost(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TEABOX_PASSWORD_HASH", raising=False)
    stored = auth.hash_password("a long passphrase")
    assert extract_parameters(stored) == profiles.RFC_9106_LOW_MEMORY
    assert auth.verify_password(stored, "a long passphrase")
    assert not auth.verify_password(stored, "another passphrase")


@pytest.mark.usefixtures("fresh_hasher")
def test_a_stored_hash_keeps_its_cost_when_the_setting_changes(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TEABOX_PASSWORD_HASH", raising=False)
    stored = auth.hash_password("made at full cost")
    monkeypatch.setenv("TEABOX_PASSWORD_HASH", "cheapest")
    auth.password_hasher.cache_clear()
    assert extract_parameters(auth.hash_password("made cheaply")) == profiles.CHEAPEST
    assert auth.verify_password(stored, "made at full cost")
    assert not auth.verify_password(stored, "made cheaply")


@pytest.mark.usefixtures("fresh_hasher")
def test_an_unknown_cost_is_refused_naming_the_variable_and_the_choices(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TEABOX_PASSWORD_HASH", "md5")
    with pytest.raises(
        ConfigError, match=r"TEABOX_PASSWORD_HASH must be one of rfc-9106-low-memory, cheapest, not 'md5'"
    ):
        auth.hash_password("a long passphrase")


def test_a_command_given_an_unknown_cost_says_so_in_one_line(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    data_dir.mkdir(mode=0o700)
    done = subprocess.run(
        teabox_command("admin", "create", "--data-dir", str(data_dir), "--user-id", "admin", "--password-stdin"),
        input="a long passphrase\n",
        capture_output=True,
        text=True,
        env={**os.environ, "TEABOX_PASSWORD_HASH": "fast"},
        timeout=120,
    )
    assert done.returncode == 1
    assert done.stderr.strip().splitlines() == [
        "Error: TEABOX_PASSWORD_HASH must be one of rfc-9106-low-memory, cheapest, not 'fast'"
    ]


def test_a_server_on_the_cheapest_cost_warns_in_its_log(platform_server: LocalServer) -> None:
    assert os.environ["TEABOX_PASSWORD_HASH"] == "cheapest"
    assert "TEABOX_PASSWORD_HASH=cheapest: new passwords get argon2's cheapest hash, which is for tests only" in (
        platform_server.log_tail(400)
    )
