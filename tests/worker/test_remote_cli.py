"""``teabox admin worker-token`` and the start of ``teabox worker --url``: what the operator sees and is refused."""

from __future__ import annotations

import hashlib
import sqlite3
import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from support.remote_workers import admin, issue_worker_token

from teabox.testing.local_server import LocalServer, free_port, teabox_command

# Its tests share module-scoped servers: one pytest-xdist process runs them all, so each starts once.
pytestmark = pytest.mark.xdist_group("remote_cli")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalServer]:
    with LocalServer(tmp_path_factory.mktemp("platform"), workers=0) as started:
        yield started


def _whoami(server: LocalServer, token: str) -> httpx.Response:
    return httpx.get(f"{server.url}/api/v1/worker/whoami", headers={"authorization": f"Bearer {token}"})


def test_a_token_is_shown_once_stored_as_its_hash_listed_without_it_and_revoked(server: LocalServer) -> None:
    token = issue_worker_token(server, "machine-b")
    token_id = _whoami(server, token).json()["token_id"]
    with sqlite3.connect(server.data_dir / "teabox.db") as db:
        stored = db.execute("select name, token_hash from worker_tokens where id = ?", (token_id,)).fetchone()
    assert stored == ("machine-b", hashlib.sha256(token.encode()).hexdigest())
    listed = admin(server, "worker-token", "list")
    assert f"{token_id}\tmachine-b\t" in listed and "live" in listed and token not in listed
    assert "is revoked" in admin(server, "worker-token", "revoke", token_id)
    assert _whoami(server, token).status_code == 401
    assert f"{token_id}\tmachine-b\t" in admin(server, "worker-token", "list")
    listed = admin(server, "worker-token", "list")
    assert "revoked" in listed.split(token_id)[1].splitlines()[0]
    admin(server, "worker-token", "revoke", token_id)  # again: nothing changes, not even the time
    assert admin(server, "worker-token", "list") == listed


@pytest.mark.parametrize(
    "args, message",
    [
        (("create", "--name", "a/b"), "not a usable worker token name"),
        (("revoke", "wt-000000000000"), "there is no worker token 'wt-000000000000'"),
    ],
)
def test_bad_admin_input_is_refused_naming_it(server: LocalServer, args: tuple[str, ...], message: str) -> None:
    done = subprocess.run(
        teabox_command("admin", "worker-token", *args, "--data-dir", str(server.data_dir)),
        capture_output=True,
        text=True,
        env=server.env,
        timeout=120,
        check=False,
    )
    assert done.returncode != 0 and message in done.stderr, done.stderr


def _start_worker(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        teabox_command("worker", "--data-dir", str(tmp_path / "work"), *args),
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=120,
        check=False,
    )


def _token_file(tmp_path: Path, token: str, mode: int = 0o600) -> Path:
    path = tmp_path / "worker.token"
    path.write_text(token + "\n")
    path.chmod(mode)
    return path


def test_a_worker_refuses_to_start_with_a_token_file_others_may_read(server: LocalServer, tmp_path: Path) -> None:
    path = _token_file(tmp_path, issue_worker_token(server), 0o644)
    done = _start_worker(tmp_path, "--url", server.url, "--token-file", str(path))
    assert done.returncode != 0 and f"chmod 600 {path}" in done.stderr, done.stderr


def test_a_worker_refuses_to_start_with_a_revoked_or_user_token(server: LocalServer, tmp_path: Path) -> None:
    token = issue_worker_token(server)
    admin(server, "worker-token", "revoke", _whoami(server, token).json()["token_id"])
    done = _start_worker(tmp_path, "--url", server.url, "--token-file", str(_token_file(tmp_path, token)))
    assert done.returncode != 0 and "refused the worker token" in done.stderr, done.stderr
    login = httpx.post(
        f"{server.url}/api/v1/user_login", json={"user_id": server.admin_id, "password": server.admin_password}
    ).json()["token"]
    done = _start_worker(tmp_path, "--url", server.url, "--token-file", str(_token_file(tmp_path, login)))
    assert done.returncode != 0 and "invalid_worker_token" in done.stderr, done.stderr


@pytest.mark.parametrize(
    "args, message",
    [
        (("--url", "http://127.0.0.1:1"), "needs both --url and --token-file"),
        (("--url", "ftp://example.org", "--token-file", "TOKEN"), "is not an http(s) URL"),
        (("--url", "URL", "--token-file", "TOKEN"), "cannot reach the API servers"),
    ],
)
def test_a_worker_with_a_bad_url_or_token_file_says_which(
    server: LocalServer, tmp_path: Path, args: tuple[str, ...], message: str
) -> None:
    token_file = str(_token_file(tmp_path, issue_worker_token(server)))
    unreachable = f"http://127.0.0.1:{free_port()}"
    done = _start_worker(tmp_path, *(token_file if a == "TOKEN" else unreachable if a == "URL" else a for a in args))
    assert done.returncode != 0 and message in done.stderr, done.stderr
