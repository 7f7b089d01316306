"""Builds each kernel twice from one source: natively with gcc -O2, and as a teabox payload.

Outputs go to bench/.build/, named by a hash of everything that goes into
them, so an edited kernel is rebuilt and an unchanged one is not.
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import sys
from pathlib import Path

from bench.workloads import KERNEL_DIR, NATIVE_MAIN

BUILD_DIR = Path(__file__).resolve().parent / ".build"
NATIVE_FLAGS = ["-O2"]
ZIG_FLAGS = ["--target=wasm32-freestanding", "-O2", "-nostdlib", "-Wl,--no-entry", "-Wl,--export=entrypoint"]


class BuildFailed(RuntimeError):
    """A kernel or payload did not compile; the message carries the compiler's output."""


def _digest(paths: list[Path], flags: list[str]) -> str:
    h = hashlib.sha256(" ".join(flags).encode())
    for path in [*paths, KERNEL_DIR / "common.h"]:
        h.update(path.read_bytes())
    return h.hexdigest()[:16]


def _compile(command: list[str], output: Path) -> Path:
    output.parent.mkdir(parents=True, exist_ok=True)
    partial = output.with_suffix(output.suffix + ".partial")
    done = subprocess.run([*command, "-o", str(partial)], capture_output=True, text=True)
    if done.returncode != 0:
        raise BuildFailed(f"{' '.join(command)} failed:\n{done.stderr.strip()}")
    partial.replace(output)
    return output


def native_binary(source: Path) -> Path:
    """``gcc -O2`` of the kernel with the timing harness of native_main.c."""
    sources = [source, NATIVE_MAIN]
    output = BUILD_DIR / "native" / f"{source.stem}-{_digest(sources, NATIVE_FLAGS)}"
    if output.exists():
        return output
    gcc = shutil.which("gcc")
    if gcc is None:
        raise BuildFailed("gcc is not on the PATH; the native baseline needs it (apt-get install gcc)")
    return _compile([gcc, *NATIVE_FLAGS, f"-I{KERNEL_DIR}", *map(str, sources)], output)


def payload(source: Path) -> bytes:
    """The wasm32 payload built from ``source``, as teabox users build theirs."""
    output = BUILD_DIR / "wasm" / f"{source.stem}-{_digest([source], ZIG_FLAGS)}.wasm"
    if not output.exists():
        _compile([sys.executable, "-m", "ziglang", "cc", *ZIG_FLAGS, f"-I{KERNEL_DIR}", str(source)], output)
    return output.read_bytes()


def payload_builder() -> str:
    """How payloads were built, for the report."""
    return "zig cc " + " ".join(ZIG_FLAGS)
