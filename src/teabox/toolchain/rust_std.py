"""Rust's standard library for wasm32, built once from the installed library sources.

Teaclave's Rust payloads use ``std`` (collections, ``String``, ``CStr``).
Debian's ``rustc-web`` ships the library *sources* rather than a wasm32 std, so
the first crate that needs std has cargo build it (``-Zbuild-std=std,panic_abort``)
into the shared cargo target directory, where cargo's own fingerprints serve it
to every later build with the same toolchain and flags. That first build takes
a minute or more on two cores, so it runs on its own, before the crate, with its
progress shown and a note that it happens once; a marker per toolchain and
flags records that it is done, so later builds say nothing.
"""

from __future__ import annotations

import hashlib
import re
import sys
import time
from collections.abc import Callable, Mapping
from pathlib import Path

from teabox.toolchain.errors import BuildError
from teabox.toolchain.process import run_tool

# `#![no_std]`, or `#![cfg_attr(..., no_std)]`, at the start of a line of the crate root.
_NO_STD = re.compile(r"^[ \t]*#!\[\s*(?:no_std|cfg_attr\s*\([^\]]*\bno_std\b[^\]]*\))\s*\]", re.MULTILINE)
STD_MISSING = "can't find crate for `std`"

_PRIMER_MANIFEST = """\
[package]
name = "teabox-std-primer"
version = "0.0.0"
edition = "2021"

[lib]
crate-type = ["rlib"]
path = "lib.rs"
"""
_PRIMER_SOURCE = """\
//! Uses std, so that building this crate builds std for wasm32 and nothing else of note.
pub fn primer() -> usize {
    std::collections::HashMap::<String, Vec<u8>>::new().len()
}
"""

Announce = Callable[[str], None]


def _to_stderr(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def needs_std(root: Path) -> bool:
    """True unless the crate root declares ``#![no_std]``: a Rust crate links std by default."""
    try:
        return _NO_STD.search(root.read_text(errors="replace")) is None
    except OSError:
        return False  # cargo will say that the root is missing


def _primer(target_dir: Path) -> Path:
    """A tiny crate that depends on std only, kept beside the std it builds."""
    directory = target_dir / ".std-primer"
    directory.mkdir(parents=True, exist_ok=True)
    for name, text in (("Cargo.toml", _PRIMER_MANIFEST), ("lib.rs", _PRIMER_SOURCE)):
        path = directory / name
        if not path.is_file() or path.read_text() != text:
            path.write_text(text)
    return directory / "Cargo.toml"


def marker(target_dir: Path, identity: str) -> Path:
    """The file that says std is built in ``target_dir`` for this toolchain and these flags."""
    return target_dir / f".std-built-{hashlib.sha256(identity.encode()).hexdigest()[:20]}"


def ensure_std(
    command_for: Callable[[Path], list[str]],
    env: Mapping[str, str],
    target_dir: Path,
    identity: str,
    library_sources: Path,
    announce: Announce = _to_stderr,
) -> bool:
    """Build std into ``target_dir`` unless the marker says it is there; True if it was built now.

    ``command_for(manifest)`` is the exact cargo command a payload build uses,
    so the std it leaves behind is the one later payload builds find. The
    caller holds the target directory's lock.
    """
    done = marker(target_dir, identity)
    if done.is_file():
        return False
    announce(
        f"teabox: building Rust's standard library for wasm32 from {library_sources} "
        "(std with panic_abort). This happens once per toolchain and build flavour and takes "
        "a minute or more on two cores; later builds reuse it."
    )
    started = time.monotonic()
    run = run_tool(command_for(_primer(target_dir)), env=env, on_line=lambda line: announce(f"  {line}"))
    if not run.ok:
        raise BuildError("building Rust's standard library for wasm32 failed", output=run.output)
    done.write_text(identity)
    announce(f"teabox: the standard library is built ({time.monotonic() - started:.0f} s) and cached in {target_dir}.")
    return True
