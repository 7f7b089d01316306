"""Sessions and waiting from the command line, against a real server: named profiles, ids for
scripts, the exit status of each way a wait ends, Ctrl-C, and an upload the client abandons."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner
from wasmtime import wat2wasm

from teabox.cli.main import main
from teabox.cli.platform_session import EXIT_INTERRUPTED, EXIT_TASK_CANCELED, EXIT_WAIT_TIMEOUT
from teabox.client import Client
from teabox.testing.local_server import LocalServer, teabox_command

RETURN_ZERO = wat2wasm(
    '(module (memory (export "memory") 1) (func (export "entrypoint") (param i32 i32) (result i32) i32.const 0))'
)


@pytest.fixture
def teabox(platform_server: LocalServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Callable[..., str]:
    """Run ``teabox ARGS`` with a private session file; returns stdout and checks the exit status."""
    monkeypatch.setenv("TEABOX_CONFIG", str(tmp_path / "session.json"))
    for name in ("TEABOX_TOKEN", "TEABOX_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("TEABOX_URL", platform_server.url)

    def run(*args: str, stdin: str | None = None, exit_code: int = 0, env: dict[str, str] | None = None) -> str:
        result = CliRunner().invoke(main, list(args), input=stdin, env=env)
        assert result.exit_code == exit_code, f"teabox {' '.join(args)}: {result.output}"
        return result.stdout.strip() if exit_code == 0 else result.stderr

    return run


def _users(admin: Client, tmp_path: Path, *roles: tuple[str, str, str]) -> list[str]:
    ids = []
    for prefix, role, attribute in roles:
        user_id = f"{prefix}-{tmp_path.name[-10:]}"
        admin.user_register(user_id, "password1", role, attribute)
        ids.append(user_id)
    return ids


def test_profiles_keep_one_session_per_user(teabox: Callable[..., str], admin_client: Client, tmp_path: Path) -> None:
    vendor, owner = _users(admin_client, tmp_path, ("pv", "FunctionOwner", ""), ("po", "DataOwner", "p"))
    teabox("login", vendor, "--password-stdin", "--profile", "vendor", stdin="password1\n")
    teabox("login", owner, "--password-stdin", "--profile", "owner", stdin="password1\n")
    assert json.loads(teabox("whoami", "--profile", "vendor"))["user_id"] == vendor
    assert json.loads(teabox("whoami", env={"TEABOX_PROFILE": "owner"}))["user_id"] == owner
    assert "not logged in" in teabox("whoami", exit_code=1)  # the default profile is nobody yet

    saved = json.loads((tmp_path / "session.json").read_text())
    assert set(saved["profiles"]) == {"vendor", "owner"}
    assert (tmp_path / "session.json").stat().st_mode & 0o777 == 0o600

    teabox("logout", "--profile", "vendor")
    assert "teabox login USER_ID --profile vendor" in teabox("whoami", "--profile", "vendor", exit_code=1)
    assert json.loads(teabox("whoami", "--profile", "owner"))["user_id"] == owner


def test_a_one_session_file_of_earlier_versions_is_the_default_profile(
    teabox: Callable[..., str], admin_client: Client, tmp_path: Path
) -> None:
    (owner,) = _users(admin_client, tmp_path, ("legacy", "DataOwner", "l"))
    with Client(admin_client.url) as client:
        client.user_login(owner, "password1")
        token = client.token
    (tmp_path / "session.json").write_text(json.dumps({"url": admin_client.url, "user_id": owner, "token": token}))
    assert json.loads(teabox("whoami"))["user_id"] == owner


def test_quiet_prints_ids_and_the_key_file_decrypts_the_output(
    teabox: Callable[..., str], admin_client: Client, tmp_path: Path
) -> None:
    (owner,) = _users(admin_client, tmp_path, ("quiet", "DataOwner", "q"))
    teabox("login", owner, "--password-stdin", stdin="password1\n")
    (tmp_path / "in.txt").write_text("42")
    input_id = teabox("file", "upload-input", str(tmp_path / "in.txt"), "--quiet")
    assert json.loads(teabox("file", "get-input", input_id))["data_id"] == input_id

    key_file = tmp_path / "out.key"
    output_id = teabox("file", "new-output", "out.enc", "--quiet", "--key-file", str(key_file))
    saved = json.loads(key_file.read_text())
    assert saved["data_id"] == output_id and len(bytes.fromhex(saved["key"])) == 16
    assert key_file.stat().st_mode & 0o777 == 0o600
    # An existing key file is never overwritten: the key in it may be the only copy.
    assert "exists" in teabox("file", "new-output", "other.enc", "--key-file", str(key_file), exit_code=2)
    assert json.loads(key_file.read_text()) == saved


@pytest.fixture
def created_task(make_user: Callable[..., Client]) -> tuple[Client, str]:
    """A task whose function needs no data; it stays Created until someone acts."""
    vendor = make_user("waitv", "FunctionOwner")
    creator = make_user("waitc", "DataOwner", "w")
    function_id = vendor.register_function("zero", "", "wamr", payload=RETURN_ZERO)
    return creator, creator.create_task(function_id, {}, "wamr")


def test_each_way_a_wait_ends_has_its_exit_status(teabox: Callable[..., str], created_task: tuple[Client, str]) -> None:
    creator, task_id = created_task
    env = {"TEABOX_TOKEN": creator.token or ""}
    said = teabox("task", "wait", task_id, "--timeout", "0.1", env=env, exit_code=EXIT_WAIT_TIMEOUT)
    assert f"`teabox task wait {task_id}`" in said and f"`teabox task cancel {task_id}`" in said

    creator.cancel_task(task_id)
    said = teabox("task", "wait", task_id, env=env, exit_code=EXIT_TASK_CANCELED)
    assert f"task {task_id} was canceled" in said


def test_ctrl_c_while_waiting_says_the_state_and_how_to_cancel(
    platform_server: LocalServer, created_task: tuple[Client, str]
) -> None:
    creator, task_id = created_task
    env = {k: v for k, v in os.environ.items() if not k.startswith("TEABOX_")}
    env |= {"TEABOX_URL": platform_server.url, "TEABOX_TOKEN": creator.token or ""}
    process = subprocess.Popen(
        teabox_command("task", "wait", task_id, "--timeout", "600"), stderr=subprocess.PIPE, text=True, env=env
    )
    assert process.stderr is not None
    with process.stderr:
        first = process.stderr.readline()
        assert first.startswith(f"Waiting for task {task_id}"), first
        process.send_signal(signal.SIGINT)
        rest = process.stderr.read()
    assert process.wait(timeout=120) == EXIT_INTERRUPTED, rest
    assert f"Task {task_id} is Created" in rest and f"`teabox task cancel {task_id}`" in rest
    assert creator.get_task(task_id).status == "Created"  # the waiting stopped, the task did not


def test_an_abandoned_upload_is_one_line_in_the_server_log(
    platform_server: LocalServer, make_user: Callable[..., Client]
) -> None:
    owner = make_user("abandon", "DataOwner", "a")
    before = platform_server.log_path.read_text(errors="replace")
    with socket.create_connection(("127.0.0.1", platform_server.port)) as connection:
        connection.sendall(
            b"POST /api/v1/upload_file?name=big.enc HTTP/1.1\r\nHost: x\r\n"
            + f"Authorization: Bearer {owner.token}\r\n".encode()
            + b"Content-Type: application/octet-stream\r\nContent-Length: 1000000\r\n\r\n"
            + b"x" * 1000
        )
    deadline = time.monotonic() + 60  # only to end a hung test; nothing here is timed
    while "closed the connection" not in platform_server.log_path.read_text(errors="replace")[len(before) :]:
        assert time.monotonic() < deadline, platform_server.log_tail()
        time.sleep(0.05)
    time.sleep(0.5)  # let a second report, if there were one, reach the log
    new = platform_server.log_path.read_text(errors="replace")[len(before) :]
    assert "Traceback" not in new and "ClientDisconnect" not in new, new
    assert new.count("closed the connection") == 1
    assert re.search(r"upload_file: the client closed the connection after \d+ of 1000000 bytes; nothing was kept", new)
