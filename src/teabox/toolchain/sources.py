"""Which language a build is, decided from the sources it was given."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum
from os import PathLike
from pathlib import Path

from teabox.toolchain.errors import BuildError


class Language(StrEnum):
    C = "c"
    CXX = "c++"
    ZIG = "zig"
    RUST = "rust"


SUFFIXES: dict[str, Language] = {
    ".c": Language.C,
    ".cc": Language.CXX,
    ".cpp": Language.CXX,
    ".cxx": Language.CXX,
    ".zig": Language.ZIG,
}

_ACCEPTED = "C (.c), C++ (.cc, .cpp, .cxx), Zig (.zig), or a Rust crate directory (with Cargo.toml)"


@dataclass(frozen=True)
class SourceSet:
    """The resolved sources of one build and the language that compiles them.

    C and C++ may be mixed (the C++ driver links both); Zig and Rust builds
    take one root each, which pulls in the rest itself.
    """

    language: Language
    paths: tuple[Path, ...]


def _language_of(path: Path) -> Language:
    if path.is_dir():
        if (path / "Cargo.toml").is_file():
            return Language.RUST
        raise BuildError(f"{path} is a directory without a Cargo.toml; expected {_ACCEPTED}")
    if not path.exists():
        raise BuildError(f"source {path} does not exist")
    language = SUFFIXES.get(path.suffix.lower())
    if language is None:
        raise BuildError(
            f"cannot build {path}: unknown kind of source {path.suffix or '(no suffix)'!r}; expected {_ACCEPTED}"
        )
    return language


def classify(sources: Iterable[str | PathLike[str]]) -> SourceSet:
    """Resolve the sources and pick the one toolchain that builds them all."""
    paths = [Path(s).resolve() for s in sources]
    if not paths:
        raise BuildError(f"no sources given; expected {_ACCEPTED}")
    paths = [p.parent if p.name == "Cargo.toml" else p for p in paths]
    languages = {p: _language_of(p) for p in paths}
    kinds = set(languages.values())
    if kinds <= {Language.C, Language.CXX}:
        return SourceSet(Language.CXX if Language.CXX in kinds else Language.C, tuple(paths))
    if len(paths) > 1:
        listed = ", ".join(f"{p.name} ({languages[p].value})" for p in paths)
        raise BuildError(
            f"cannot build {listed} together: only C and C++ sources may be combined; "
            "a Zig build takes its root file (it @imports the rest) and a Rust build takes one crate directory"
        )
    return SourceSet(kinds.pop(), tuple(paths))
