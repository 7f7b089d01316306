"""``build()``: sources in, a checked payload out, from the cache when nothing changed."""

from __future__ import annotations

import os
import tempfile
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from teabox.abi import ModuleReport, inspect
from teabox.toolchain.backend import Backend, file_digest
from teabox.toolchain.c_family import CFamilyBackend
from teabox.toolchain.cache import BuildCache
from teabox.toolchain.errors import BuildError
from teabox.toolchain.first_build import first_build_note, remember_build
from teabox.toolchain.options import BuildOptions
from teabox.toolchain.rust import RustBackend
from teabox.toolchain.sources import Language, SourceSet, classify
from teabox.toolchain.zig import ZigBackend


@dataclass(frozen=True)
class BuildResult:
    wasm: bytes
    path: Path | None  # where the module was written, if an output was asked for
    cached: bool  # True when no compiler ran
    report: ModuleReport  # the ABI checker's view of the module (always ok)
    language: Language
    options: BuildOptions
    key: str
    seconds: float
    log: str = ""  # the compiler's warnings and progress; empty when served from the cache


def backend_for(language: Language) -> Backend:
    if language in (Language.C, Language.CXX):
        return CFamilyBackend(language)
    if language is Language.ZIG:
        return ZigBackend()
    return RustBackend()


def _checked(wasm: bytes) -> ModuleReport:
    report = inspect(wasm)
    if not report.ok:
        raise BuildError(
            "the module was built but is not a valid teabox payload",
            output="\n".join(f"  - {problem}" for problem in report.problems),
        )
    return report


def _write_output(path: Path, wasm: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(wasm)
        os.chmod(temporary, 0o644)
        os.replace(temporary, path)
    except BaseException:
        os.unlink(temporary)
        raise


def build(
    sources: Iterable[str | os.PathLike[str]] | str | os.PathLike[str],
    output: str | os.PathLike[str] | None = None,
    *,
    size: bool = False,
    simd: bool = True,
    cache: BuildCache | None = None,
    on_first_build: Callable[[str], None] | None = None,
) -> BuildResult:
    """Build a payload from C/C++ files, one Zig root file, or one Rust crate directory.

    Raises BuildError (with the compiler's output and the fix) on any failure,
    and ToolchainMissing when the language's compiler is not installed.
    ``on_first_build`` hears, before the compiler starts, what a first build of
    its kind on this machine does once and why it takes longer.
    """
    started = time.monotonic()
    if isinstance(sources, (str, os.PathLike)):
        sources = [sources]
    source_set: SourceSet = classify(sources)
    options = BuildOptions(size=size, simd=simd)
    backend = backend_for(source_set.language)
    cache = cache or BuildCache()
    fingerprint, recipe = backend.fingerprint(), backend.recipe(options)
    key = cache.key(
        {
            "language": source_set.language.value,
            "toolchain": fingerprint,
            "recipe": recipe,
            # Full paths: the same source elsewhere may include different headers next to it.
            "sources": [[str(path), file_digest(path)] for path in backend.key_files(source_set)],
        }
    )
    entry = cache.get(key)
    if entry is not None:
        wasm, cached, log = entry.wasm, True, ""
        report = _checked(wasm)
    else:
        kind = (source_set.language, fingerprint, recipe)
        note = first_build_note(*kind)
        if note is not None and on_first_build is not None:
            on_first_build(note)
        with tempfile.TemporaryDirectory(prefix="teabox-build-") as workdir:
            compiled = backend.compile(source_set, options, Path(workdir))
        remember_build(*kind)
        wasm, cached, log = compiled.wasm, False, compiled.log
        report = _checked(wasm)
        cache.put(key, wasm, {str(path): file_digest(path) for path in compiled.dependencies})
    path = Path(output) if output is not None else None
    if path is not None:
        _write_output(path, wasm)
    return BuildResult(wasm, path, cached, report, source_set.language, options, key, time.monotonic() - started, log)
