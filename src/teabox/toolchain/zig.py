"""Zig payloads, built by ``zig build-exe`` with the teabox module available as ``@import("teabox")``."""

from __future__ import annotations

import re
from pathlib import Path

from teabox.toolchain.backend import Compiled, existing_unique
from teabox.toolchain.diagnostics import link_fixes
from teabox.toolchain.errors import BuildError
from teabox.toolchain.options import ENTRYPOINT, STACK_SIZE, BuildOptions
from teabox.toolchain.process import ZIG, run_tool
from teabox.toolchain.sdk import ZIG_MODULE
from teabox.toolchain.sources import SourceSet
from teabox.toolchain.zig_toolchain import zig_fingerprint

# Zig names every file it reads in a string literal, so the files a build
# depends on can be found without asking the compiler.
_FILE_REFERENCE = re.compile(r'@(import|embedFile)\(\s*"((?:[^"\\]|\\.)+)"\s*\)')


def referenced_files(root: Path) -> list[Path]:
    """``root`` and every file it reaches through relative @import or @embedFile."""
    found: dict[Path, None] = {}
    pending = [root.resolve()]
    while pending:
        path = pending.pop()
        if path in found or not path.is_file():
            continue
        found[path] = None
        if path.suffix != ".zig":
            continue
        for kind, name in _FILE_REFERENCE.findall(path.read_text(errors="replace")):
            if kind == "embedFile" or name.endswith(".zig"):
                pending.append((path.parent / name).resolve())
    return list(found)


class ZigBackend:
    def fingerprint(self) -> str:
        return zig_fingerprint()

    def recipe(self, options: BuildOptions) -> list[str]:
        return [
            "build-exe",
            "-target",
            "wasm32-freestanding",
            "-mcpu",
            "generic+simd128" if options.simd else "generic",
            "-O",
            "ReleaseSmall" if options.size else "ReleaseFast",
            "-fno-entry",
            f"--export={ENTRYPOINT}",
            "-fstrip",
            "--stack",
            str(STACK_SIZE),
        ]

    def key_files(self, sources: SourceSet) -> list[Path]:
        return list(sources.paths)

    def compile(self, sources: SourceSet, options: BuildOptions, workdir: Path) -> Compiled:
        (root,) = sources.paths
        wasm = workdir / "payload.wasm"
        run = run_tool(
            [
                *ZIG,
                *self.recipe(options),
                "--cache-dir",
                workdir / "zig-cache",
                "--dep",
                "teabox",
                f"-Mroot={root}",
                f"-Mteabox={ZIG_MODULE}",
                f"-femit-bin={wasm}",
            ],
            cwd=workdir,
        )
        if not run.ok:
            raise BuildError(f"compiling {root.name} failed", output=run.output, fixes=link_fixes(run.output))
        dependencies = existing_unique([*referenced_files(root), *referenced_files(ZIG_MODULE)])
        return Compiled(wasm.read_bytes(), dependencies, run.output)
