"""C and C++ payloads, compiled and linked by ``zig cc`` / ``zig c++``.

Each source is compiled to its own object (so the compiler can tell us which
headers it read), then linked with no entry point, ``entrypoint`` exported and
nothing allowed to stay undefined. Zig links its compiler runtime, which
supplies memset, memcpy and memmove (and the soft-float and 128-bit helpers)
as weak symbols: the compiler's implicit calls resolve to them, and a payload
that defines its own memset or strlen keeps its own.
"""

from __future__ import annotations

from pathlib import Path

from teabox.toolchain.backend import Compiled, existing_unique, parse_make_dependencies
from teabox.toolchain.diagnostics import compile_fixes, link_fixes, link_summary
from teabox.toolchain.errors import BuildError
from teabox.toolchain.options import ENTRYPOINT, STACK_SIZE, BuildOptions
from teabox.toolchain.process import ZIG, run_tool
from teabox.toolchain.sdk import INCLUDE_DIR
from teabox.toolchain.sources import SUFFIXES, Language, SourceSet
from teabox.toolchain.zig_toolchain import zig_fingerprint

TARGET = "--target=wasm32-freestanding"


class CFamilyBackend:
    def __init__(self, language: Language) -> None:
        self.language = language
        self.driver = "c++" if language is Language.CXX else "cc"

    def fingerprint(self) -> str:
        return zig_fingerprint()

    def _opt(self, options: BuildOptions) -> str:
        return "-Oz" if options.size else "-O3"

    def _compile_flags(self, options: BuildOptions, language: Language) -> list[str]:
        flags = [TARGET, self._opt(options), "-ffunction-sections", "-fdata-sections"]
        if options.simd:
            flags.append("-msimd128")
        if language is Language.CXX:
            # No C++ runtime exists for a payload: make `throw` and typeid compile errors, not link errors.
            flags += ["-fno-exceptions", "-fno-rtti"]
        return flags

    def _link_flags(self, options: BuildOptions) -> list[str]:
        return [
            TARGET,
            self._opt(options),
            "-Wl,--no-entry",
            f"-Wl,--export={ENTRYPOINT}",
            "-Wl,--strip-all",
            f"-Wl,-z,stack-size={STACK_SIZE}",
        ]

    def recipe(self, options: BuildOptions) -> list[str]:
        return [self.driver, *self._compile_flags(options, self.language), "--link", *self._link_flags(options)]

    def key_files(self, sources: SourceSet) -> list[Path]:
        return list(sources.paths)

    def compile(self, sources: SourceSet, options: BuildOptions, workdir: Path) -> Compiled:
        objects: list[Path] = []
        dependencies: list[Path] = []
        log: list[str] = []
        for index, source in enumerate(sources.paths):
            obj = workdir / f"{index}-{source.stem}.o"
            depfile = obj.with_suffix(".d")
            # Each source is compiled as its own language, so C files in a C++ build stay C.
            language = SUFFIXES[source.suffix.lower()]
            driver = "c++" if language is Language.CXX else "cc"
            run = run_tool(
                [
                    *ZIG,
                    driver,
                    *self._compile_flags(options, language),
                    "-I",
                    INCLUDE_DIR,
                    "-MMD",
                    "-MF",
                    depfile,
                    "-c",
                    source,
                    "-o",
                    obj,
                ]
            )
            if not run.ok:
                raise BuildError(f"compiling {source.name} failed", output=run.output, fixes=compile_fixes(run.output))
            objects.append(obj)
            log.append(run.output)
            dependencies += parse_make_dependencies(depfile.read_text())
        wasm = workdir / "payload.wasm"
        run = run_tool([*ZIG, self.driver, *objects, *self._link_flags(options), "-o", wasm])
        if not run.ok:
            output = run.output
            for obj, source in zip(objects, sources.paths, strict=False):
                output = output.replace(str(obj), source.name)
            raise BuildError(link_summary(output), output=output, fixes=link_fixes(output))
        log.append(run.output)
        return Compiled(wasm.read_bytes(), existing_unique([*sources.paths, *dependencies]), "".join(log))
