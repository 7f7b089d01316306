"""Builds each kernel twice from one source: natively with gcc -O2, and as a teabox payload.

Native binaries go to bench/.build/, named by a hash of everything that goes
into them, so an edited kernel is rebuilt and an unchanged one is not.
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
from pathlib import Path

from bench.workloads import KERNEL_DIR, NATIVE_MAIN
from teabox import toolchain
from teabox.toolchain.c_family import CFamilyBackend
from teabox.toolchain.options import BuildOptions
from teabox.toolchain.sources import Language

BUILD_DIR = Path(__file__).resolve().parent / ".build"
NATIVE_FLAGS = ["-O2"]


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
    done = subprocess.run([*command, "-o", str(partial)], capture_output=True, text=True, check=False)
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


def payload(source: Path, *, simd: bool = True) -> bytes:
    """The payload built from ``source`` by ``teabox build`` (its own cache skips unchanged sources).

    ``simd=False`` is ``teabox build --no-simd``, for the interpreters that
    cannot run wasm SIMD (wasm3, WAMR's classic interpreter).
    """
    return toolchain.build([source], simd=simd).wasm


def payload_builder() -> str:
    """How payloads were built, for the report."""
    recipe = CFamilyBackend(Language.C).recipe(BuildOptions())
    return "`teabox build` (" + " ".join(str(part) for part in recipe) + ")"
