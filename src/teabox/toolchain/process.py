"""Running the compilers, observably.

Every compiler or linker process a build starts goes through :func:`run_tool`,
which counts it: the count is how tests (and curious users) can see that a
cached rebuild did not compile anything.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from teabox.toolchain.errors import ToolchainMissing

# Zig (and the LLD inside it) comes from the pinned `ziglang` Python package,
# so a plain `pip install teabox` is enough to build C, C++ and Zig.
ZIG: tuple[str, ...] = (sys.executable, "-m", "ziglang")

_invocations = 0


def tool_invocations() -> int:
    """How many compiler or linker processes this process has started."""
    return _invocations


@dataclass(frozen=True)
class ToolRun:
    returncode: int
    output: str  # stdout and stderr, interleaved as the tool wrote them

    @property
    def ok(self) -> bool:
        return self.returncode == 0


def run_tool(
    command: Sequence[str | os.PathLike[str]],
    *,
    cwd: Path | None = None,
    env: Mapping[str, str] | None = None,
    on_line: Callable[[str], None] | None = None,
) -> ToolRun:
    """Run one tool to completion and capture what it printed.

    ``on_line`` receives each line as the tool prints it, for builds long
    enough that the user should see them progress.
    """
    global _invocations
    _invocations += 1
    try:
        process = subprocess.Popen(
            [os.fspath(part) for part in command],
            cwd=cwd,
            env=dict(env) if env is not None else None,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            errors="replace",
        )
    except FileNotFoundError as exc:
        raise ToolchainMissing(f"cannot run {os.fspath(command[0])}: {exc.strerror}") from exc
    assert process.stdout is not None
    lines = []
    with process:
        for line in process.stdout:
            lines.append(line)
            if on_line is not None:
                on_line(line.rstrip("\n"))
    return ToolRun(process.returncode, "".join(lines))
