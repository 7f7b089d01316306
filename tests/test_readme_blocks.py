"""The README's shell walkthrough, run as written against a real server, so that it cannot drift.

Every fenced ``sh`` block preceded by ``<!-- readme-test: run -->`` is run, in
order, by one ``bash`` with ``set -euo pipefail``, in a fresh directory that
sees the repository's ``examples/``; a failing command fails the test and names
its block. The blocks start their own ``teabox serve`` on the port they name.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
MARKER = "<!-- readme-test: run -->"
_BLOCK = re.compile(re.escape(MARKER) + r"\s*\n```sh\n(.*?)```", re.DOTALL)
PORT = 7777  # the port the README's blocks use


def readme_blocks() -> list[str]:
    return _BLOCK.findall((REPO / "README.md").read_text())


def _script(blocks: list[str]) -> str:
    lines = ["set -euo pipefail"]
    for number, block in enumerate(blocks, 1):
        lines += [f"echo '=== README block {number}' >&2", block]
    lines.append("echo '=== README blocks done' >&2")
    return "\n".join(lines)


def _port_taken(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0


def test_the_readme_marks_the_whole_walkthrough() -> None:
    blocks = readme_blocks()
    text = "\n".join(blocks)
    assert len(blocks) >= 5
    for step in (
        "admin create",
        "teabox serve",
        "user register",
        "function register",
        "task create",
        "upload-input",
        "new-output",
        "task approve",
        "task invoke",
        "fetch-output",
    ):
        assert step in text, step


def test_the_readme_walkthrough_runs_as_written(tmp_path: Path) -> None:
    if _port_taken(PORT):
        pytest.skip(f"something already listens on 127.0.0.1:{PORT}, the port the README's walkthrough uses")
    # `teabox` on PATH is this interpreter's, with this checkout's sources.
    shim = tmp_path / "bin" / "teabox"
    shim.parent.mkdir()
    shim.write_text(f'#!/bin/sh\nexec "{sys.executable}" -m teabox.cli "$@"\n')
    shim.chmod(0o755)
    work = tmp_path / "work"
    work.mkdir()
    (work / "examples").symlink_to(REPO / "examples")
    env = {k: v for k, v in os.environ.items() if not k.startswith("TEABOX_")}
    env |= {
        "PATH": f"{shim.parent}{os.pathsep}{env.get('PATH', '')}",
        "PYTHONPATH": os.pathsep.join([str(REPO / "src"), *filter(None, [env.get("PYTHONPATH")])]),
        "TEABOX_CONFIG": str(tmp_path / "session.json"),
        "TEABOX_CACHE_DIR": os.environ.get("TEABOX_CACHE_DIR", str(Path.home() / ".cache" / "teabox")),
    }
    # A file, not a pipe: the server the blocks start in the background writes to it too.
    transcript = tmp_path / "transcript.txt"
    with open(transcript, "w") as out:
        process = subprocess.Popen(
            ["bash", "-c", _script(readme_blocks())],
            cwd=work,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        process.wait(timeout=600)
    finally:
        # The server the blocks started shares bash's process group: nothing outlives the test.
        try:
            os.killpg(process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        process.wait()
    output = transcript.read_text(errors="replace")
    log = (work / "serve.log").read_text(errors="replace") if (work / "serve.log").exists() else ""
    assert process.returncode == 0, f"{output}\n--- serve.log ---\n{log}"
    assert "=== README blocks done" in output
    assert (work / "verdict.txt").read_text() == "pf_in_a"
    assert '"return_value": "7"' in output
