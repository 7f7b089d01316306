"""Say so when a build is the first of its kind on this machine, and so takes much longer.

The first C, C++ or Zig build compiles Zig's runtime library for wasm32 into
Zig's cache, and the first Rust build compiles Rust's ``core`` and ``alloc``
for wasm32 into cargo's target directory; both are reused by every later
build. teabox cannot ask either compiler whether that work is still to do, so
it remembers each (language, toolchain, flags) it has compiled once, with a
marker file in its cache directory.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from teabox.executor.cache import default_cache_dir
from teabox.toolchain.sources import Language

_ZIG_RUNTIME = (
    "Zig builds its runtime library for wasm32 once on this machine (10-60 s depending on the machine and its load); "
    "later builds reuse it"
)
NOTES: dict[Language, str] = {
    Language.C: _ZIG_RUNTIME,
    Language.CXX: _ZIG_RUNTIME,
    Language.ZIG: _ZIG_RUNTIME,
    Language.RUST: (
        "cargo builds Rust's core and alloc libraries for wasm32 once on this machine "
        "(2-3 minutes on 2 cores); later builds reuse them"
    ),
}


def _marker(language: Language, fingerprint: str, recipe: list[str]) -> Path:
    digest = hashlib.sha256(json.dumps([language.value, fingerprint, recipe]).encode()).hexdigest()[:24]
    return default_cache_dir() / "toolchain" / "compiled-once" / digest


def first_build_note(language: Language, fingerprint: str, recipe: list[str]) -> str | None:
    """What the coming compile will do once, or None if this machine has compiled the same kind before."""
    return None if _marker(language, fingerprint, recipe).exists() else NOTES[language]


def remember_build(language: Language, fingerprint: str, recipe: list[str]) -> None:
    marker = _marker(language, fingerprint, recipe)
    marker.parent.mkdir(parents=True, exist_ok=True)
    marker.touch()
