"""What every language's builder provides, so the build and its cache treat them alike."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from teabox.toolchain.options import BuildOptions
from teabox.toolchain.sources import SourceSet


@dataclass(frozen=True)
class Compiled:
    """A linked module, every file the compiler read to make it (for cache validation), and its warnings."""

    wasm: bytes
    dependencies: tuple[Path, ...]
    log: str = ""  # what the tools printed on success


class Backend(Protocol):
    def fingerprint(self) -> str:
        """The exact toolchain, so that a new compiler version never reuses old builds."""
        ...

    def recipe(self, options: BuildOptions) -> list[str]:
        """The flags that shape the module, free of paths, so they can be part of a cache key."""
        ...

    def key_files(self, sources: SourceSet) -> list[Path]:
        """The files whose contents identify the build before anything is compiled."""
        ...

    def compile(self, sources: SourceSet, options: BuildOptions, workdir: Path) -> Compiled:
        """Compile and link in ``workdir``; raise BuildError with the tool's output on failure."""
        ...


def file_digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def parse_make_dependencies(text: str) -> list[Path]:
    """The prerequisites in a Makefile-style dependency file (as clang's -MD and cargo write)."""
    joined = text.replace("\\\n", " ")
    paths: list[Path] = []
    for line in joined.splitlines():
        _target, sep, rest = line.partition(": ")
        if not sep:
            continue
        current = ""
        escaped = False
        for char in rest + " ":
            if escaped:
                current += char
                escaped = False
            elif char == "\\":
                escaped = True
            elif char.isspace():
                if current:
                    paths.append(Path(current))
                current = ""
            else:
                current += char
    return paths


def existing_unique(paths: Iterable[Path]) -> tuple[Path, ...]:
    """Resolved, de-duplicated paths of files that exist, in first-seen order."""
    seen: dict[Path, None] = {}
    for path in paths:
        resolved = path.resolve()
        if resolved.is_file():
            seen.setdefault(resolved, None)
    return tuple(seen)
