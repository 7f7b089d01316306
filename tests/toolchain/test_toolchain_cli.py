"""``teabox build`` and ``teabox sdk-path`` as a user runs them."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner
from support.toolchain import EXAMPLES, isolated_cache  # noqa: F401  (fixture)

from teabox.cli.main import main
from teabox.toolchain import INCLUDE_DIR, RUST_CRATE, ZIG_MODULE

pytestmark = pytest.mark.usefixtures("isolated_cache")


def teabox(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """Run the real `teabox` command in a child process (it inherits the isolated cache)."""
    return subprocess.run(
        [sys.executable, "-c", "from teabox.cli.main import main; main()", *args],
        cwd=cwd,
        check=False,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_build_then_run_in_two_commands(tmp_path: Path) -> None:
    (tmp_path / "add.c").write_bytes((EXAMPLES / "add-c" / "add.c").read_bytes())
    built = teabox("build", "add.c", "-o", "add.wasm", cwd=tmp_path)
    assert built.returncode == 0, built.stderr
    assert "valid teabox payload" in built.stdout
    assert "export  entrypoint (i32, i32) -> (i32)" in built.stdout
    assert f"{(tmp_path / 'add.wasm').stat().st_size} bytes" in built.stdout
    ran = teabox("run", "add.wasm", "--arg", "a=35", "--arg", "b=7", cwd=tmp_path)
    assert ran.returncode == 0, ran.stderr
    assert ran.stdout.strip() == "42"
    again = teabox("build", "add.c", "-o", "add.wasm", cwd=tmp_path)
    assert "from cache" in again.stdout


def test_output_name_defaults_to_the_source_name(tmp_path: Path) -> None:
    (tmp_path / "twice.c").write_text("int entrypoint(int argc, char **argv) { return 2 * argc; }\n")
    runner = CliRunner()
    with runner.isolated_filesystem(temp_dir=tmp_path) as workdir:
        result = runner.invoke(main, ["build", str(tmp_path / "twice.c")], catch_exceptions=False)
        assert result.exit_code == 0
        assert (Path(workdir) / "twice.wasm").is_file()


def test_build_failure_prints_the_error_and_the_fix(tmp_path: Path) -> None:
    (tmp_path / "bad.c").write_text("int nowhere(void);\nint entrypoint(int argc, char **argv) { return nowhere(); }\n")
    failed = teabox("build", "bad.c", "-o", "bad.wasm", cwd=tmp_path)
    assert failed.returncode == 1
    # A note may come first: the first C build on a machine says that Zig builds its runtime library.
    assert any(
        line.startswith("error: linking failed: called but never defined: nowhere")
        for line in failed.stderr.splitlines()
    )
    assert "fix: `nowhere` is called but defined nowhere" in failed.stderr
    assert not (tmp_path / "bad.wasm").exists()


def test_build_json(tmp_path: Path) -> None:
    (tmp_path / "one.c").write_text("int entrypoint(int argc, char **argv) { return 1; }\n")
    result = CliRunner().invoke(
        main, ["build", str(tmp_path / "one.c"), "-o", str(tmp_path / "one.wasm"), "--json", "--size"]
    )
    data = json.loads(result.stdout)  # notes (a first build of its kind) go to stderr
    assert data["goal"] == "size" and data["report"]["ok"] and data["language"] == "c"


def test_sdk_path() -> None:
    runner = CliRunner()
    root = Path(runner.invoke(main, ["sdk-path"]).output.strip())
    assert (root / "include" / "teabox.h").is_file() and (root / "include" / "teaclave_context.h").is_file()
    assert Path(runner.invoke(main, ["sdk-path", "--include"]).output.strip()) == INCLUDE_DIR
    assert Path(runner.invoke(main, ["sdk-path", "--zig"]).output.strip()) == ZIG_MODULE
    assert Path(runner.invoke(main, ["sdk-path", "--rust"]).output.strip()) == RUST_CRATE
