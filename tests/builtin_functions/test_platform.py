"""Built-ins on a real server: registered as Teaclave's scripts register them, run in the sandbox."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner

from teabox.builtins import BUILTINS, find
from teabox.cli.main import main
from teabox.client import (
    BadRequest,
    Client,
    FunctionArgument,
    FunctionInput,
    FunctionOutput,
    InvalidRequest,
    TaskFailed,
)
from teabox.testing.local_server import LocalServer


def _echo(vendor: Client) -> str:
    # Teaclave's builtin_echo.py, word for word apart from the client.
    return vendor.register_function(
        name="builtin-echo",
        description="Native Echo Function",
        executor_type="builtin",
        arguments=[FunctionArgument("message")],
    )


def test_echo_registered_without_payload_runs_the_bundled_module(admin_client: Client) -> None:
    vendor = admin_client
    function_id = _echo(vendor)
    function = vendor.get_function(function_id)
    module = find("builtin-echo").payload()  # type: ignore[union-attr]
    assert function.executor_type == "builtin"
    assert function.payload_size == len(module)
    assert function.payload_id == hashlib.sha256(module).hexdigest()

    task_id = vendor.create_task(function_id, {"message": "Hello, Teaclave!"}, "builtin")
    vendor.invoke_task(task_id)
    assert vendor.get_task_result(task_id) == b"Hello, Teaclave!"


def test_a_builtin_error_fails_the_task_with_its_message(admin_client: Client) -> None:
    vendor = admin_client
    function_id = _echo(vendor)
    task_id = vendor.create_task(function_id, {"message": ""}, "builtin")
    vendor.invoke_task(task_id)
    assert vendor.get_task_result(task_id) == b""

    function_id = vendor.register_function(
        name="builtin-private-join-and-compute",
        description="",
        executor_type="builtin",
        arguments=[FunctionArgument("num_user")],
    )
    task_id = vendor.create_task(function_id, {"num_user": 1}, "builtin")
    vendor.invoke_task(task_id)
    with pytest.raises(TaskFailed) as failed:
        vendor.get_task_result(task_id)
    assert (failed.value.kind, failed.value.reason) == ("function_error", "The demo requires at least two parties!")


def test_registration_refusals(make_user: Callable[..., Client], admin_client: Client) -> None:
    vendor = make_user("vendor", "FunctionOwner")
    with pytest.raises(BadRequest) as unknown:
        vendor.register_function(name="builtin-ehco", description="", executor_type="builtin")
    assert (unknown.value.status, unknown.value.code) == (400, "unknown_builtin")
    assert "'builtin-ehco'" in unknown.value.message and "builtin-echo" in unknown.value.message

    payload_id = vendor.upload_payload(find("builtin-echo").payload())  # type: ignore[union-attr]
    with pytest.raises(BadRequest) as with_payload:
        vendor.register_function(name="builtin-echo", description="", executor_type="builtin", payload_id=payload_id)
    assert (with_payload.value.status, with_payload.value.code) == (400, "invalid_payload")

    with pytest.raises(InvalidRequest) as reserved:
        vendor.register_function(
            name="builtin-echo", description="", executor_type="builtin", outputs=[FunctionOutput("teabox:result")]
        )
    assert reserved.value.code == "invalid_output" and "reserved" in reserved.value.message
    with pytest.raises(InvalidRequest) as reserved_input:
        vendor.register_function(
            name="builtin-echo", description="", executor_type="builtin", inputs=[FunctionInput("teabox:x")]
        )
    assert reserved_input.value.code == "invalid_input"

    function_id = _echo(vendor)
    with pytest.raises(InvalidRequest) as executor:
        admin_client.create_task(function_id, {"message": "hi"}, "wamr")
    assert executor.value.code == "invalid_executor"


def test_cli_lists_registers_and_runs_a_builtin(
    platform_server: LocalServer,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    admin_client: Client,
) -> None:
    runner = CliRunner()
    listed = runner.invoke(main, ["function", "builtins", "--json"], catch_exceptions=False)
    assert listed.exit_code == 0
    assert [b["name"] for b in json.loads(listed.output)] == list(BUILTINS)
    assert (
        "builtin-echo\n  Returns the argument `message` verbatim."
        in runner.invoke(main, ["function", "builtins"]).output
    )

    monkeypatch.setenv("TEABOX_CONFIG", str(tmp_path / "session.json"))
    monkeypatch.setenv("TEABOX_URL", platform_server.url)
    monkeypatch.setenv("TEABOX_TOKEN", admin_client.token or "")
    missing = runner.invoke(main, ["function", "register", "--name", "f"])
    assert missing.exit_code == 2 and "--payload is required (except with --executor-type builtin)" in missing.output

    def teabox(*args: str) -> str:
        result = runner.invoke(main, list(args), catch_exceptions=False)
        assert result.exit_code == 0, result.output
        return result.output.strip()

    function_id = teabox(
        "function", "register", "--name", "builtin-echo", "--executor-type", "builtin", "--argument", "message"
    )
    task_id = teabox("task", "create", function_id, "--executor", "builtin", "--arg", "message=Hello, Teaclave!")
    waited = teabox("task", "invoke", task_id, "--wait")
    assert json.loads(waited[waited.index("{") :])["return_value"] == "Hello, Teaclave!"
