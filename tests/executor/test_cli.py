"""``teabox run`` and ``teabox inspect`` as a user calls them."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from teabox.cli.main import main

from .conftest import entry
from .test_cache_and_concurrency import ECHO


def invoke(*args: str, env: dict | None = None):
    return CliRunner().invoke(main, list(args), env=env)


def test_run_with_files_prints_the_result(tmp_path: Path) -> None:
    payload = tmp_path / "echo.wasm"
    payload.write_bytes(ECHO)
    (tmp_path / "in.txt").write_bytes(b"hello")
    env = {"TEABOX_CACHE_DIR": str(tmp_path / "cache")}
    result = invoke(
        "run",
        str(payload),
        "--arg",
        "a=1",
        "--input",
        f"in={tmp_path / 'in.txt'}",
        "--output",
        f"out={tmp_path / 'out.txt'}",
        env=env,
    )
    assert result.exit_code == 0, result.output
    assert result.output.strip() == "10"  # 5 bytes x argc 2
    assert (tmp_path / "out.txt").read_bytes() == b"hello"


def test_each_failure_class_has_its_own_exit_code_and_json_shows_everything(tmp_path: Path) -> None:
    env = {"TEABOX_CACHE_DIR": str(tmp_path / "cache")}
    cases = {
        "(loop (br 0)) (i32.const 0)": ("12", "timeout"),
        "unreachable": ("11", "trap"),
    }
    for body, (code, kind) in cases.items():
        payload = tmp_path / "p.wasm"
        payload.write_bytes(entry(body))
        result = invoke("run", str(payload), "--timeout", "200ms", "--json", env=env)
        assert str(result.exit_code) == code
        data = json.loads(result.output)
        assert data["status"] == "failed" and data["failure"]["kind"] == kind


def test_bad_options_are_named(tmp_path: Path) -> None:
    payload = tmp_path / "p.wasm"
    payload.write_bytes(entry("(i32.const 0)"))
    for args, needle in (
        (["--timeout", "soon"], "not a duration"),
        (["--memory", "lots"], "not a size"),
        (["--arg", "novalue"], "expected NAME=VALUE"),
        (["--input", f"x={tmp_path / 'missing'}"], "no such file"),
    ):
        result = invoke("run", str(payload), *args)
        assert result.exit_code == 2 and needle in result.output, result.output


def test_inspect_reports_and_refuses(tmp_path: Path) -> None:
    good = tmp_path / "good.wasm"
    good.write_bytes(entry("(i32.const 0)"))
    result = invoke("inspect", str(good))
    assert result.exit_code == 0 and "valid teabox payload" in result.output
    assert "import env.teaclave_open_input: func (i32) -> (i32)" in result.output
    bad = tmp_path / "bad.wasm"
    bad.write_bytes(b"not wasm")
    result = invoke("inspect", str(bad), "--json")
    assert result.exit_code == 10 and json.loads(result.output)["ok"] is False
