"""The platform commands, end to end against a real server: log in, publish a function,
run a task with an encrypted input and output, and read the result."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner
from support.examples import build_example

from teabox.cli.main import main
from teabox.client import Client
from teabox.testing.local_server import LocalServer


@pytest.fixture
def teabox(platform_server: LocalServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Callable[..., str]:
    """Run a ``teabox`` command with a private session file; returns its stdout, fails on a non-zero exit."""
    monkeypatch.setenv("TEABOX_CONFIG", str(tmp_path / "session.json"))
    monkeypatch.delenv("TEABOX_TOKEN", raising=False)
    monkeypatch.setenv("TEABOX_URL", platform_server.url)
    runner = CliRunner()

    def run(*args: str, stdin: str | None = None, exit_code: int = 0) -> str:
        result = runner.invoke(main, list(args), input=stdin, catch_exceptions=False)
        assert result.exit_code == exit_code, f"teabox {' '.join(args)}: {result.output}"
        return result.stdout.strip()

    return run


def test_a_task_from_the_command_line(teabox: Callable[..., str], admin_client: Client, tmp_path: Path) -> None:
    admin_client.user_register(f"cli-vendor-{tmp_path.name[-8:]}", "password1", "FunctionOwner")
    admin_client.user_register(f"cli-owner-{tmp_path.name[-8:]}", "password1", "DataOwner", "cli")
    vendor, owner = f"cli-vendor-{tmp_path.name[-8:]}", f"cli-owner-{tmp_path.name[-8:]}"
    payload = tmp_path / "millionaire.wasm"
    payload.write_bytes(build_example("millionaire-c"))

    teabox("login", vendor, "--password-stdin", stdin="password1\n")
    assert json.loads(teabox("whoami"))["role"] == "FunctionOwner"
    function_id = teabox(
        "function",
        "register",
        "--name",
        "millionaire",
        "--payload",
        str(payload),
        "--input",
        "pf_in_a",
        "--input",
        "pf_in_b",
        "--output",
        "pf_out",
        "--timeout",
        "5s",
    )
    assert json.loads(teabox("function", "get", function_id))["limits"]["timeout_seconds"] == 5.0

    teabox("login", owner, "--password-stdin", stdin="password1\n")
    task_id = teabox(
        "task",
        "create",
        function_id,
        "--input-owner",
        f"pf_in_a={owner}",
        "--input-owner",
        f"pf_in_b={owner}",
        "--output-owner",
        f"pf_out={owner}",
    )
    inputs = {}
    for name, wealth in (("pf_in_a", "5"), ("pf_in_b", "9")):
        (tmp_path / f"{name}.txt").write_text(wealth)
        inputs[name] = json.loads(teabox("file", "upload-input", str(tmp_path / f"{name}.txt")))
    output = json.loads(teabox("file", "new-output", "verdict.enc"))
    teabox(
        "task",
        "assign",
        task_id,
        "--input",
        f"pf_in_a={inputs['pf_in_a']['data_id']}",
        "--input",
        f"pf_in_b={inputs['pf_in_b']['data_id']}",
        "--output",
        f"pf_out={output['data_id']}",
    )
    teabox("task", "approve", task_id)
    result = json.loads(teabox("task", "invoke", task_id, "--wait", "--timeout", "60"))
    assert (result["status"], result["return_value"]) == ("Finished", "7")
    assert teabox("task", "cmac", task_id, "pf_out") == result["tags_map"]["pf_out"]

    teabox(
        "file",
        "fetch-output",
        output["data_id"],
        str(tmp_path / "verdict.txt"),
        "--key",
        output["key"],
        "--schema",
        output["schema"],
    )
    assert (tmp_path / "verdict.txt").read_text() == "pf_in_b"
    assert task_id in teabox("task", "list").splitlines()

    # A refusal is one line on stderr and exit status 3, not a traceback.
    teabox("task", "invoke", task_id, exit_code=3)
    teabox("logout")
    teabox("task", "list", exit_code=1)
