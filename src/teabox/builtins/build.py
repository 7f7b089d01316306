"""Rebuild the bundled built-in modules from their sources with ``teabox build``.

``python -m teabox.builtins.build`` rewrites ``wasm/`` after a source change;
the test suite rebuilds each module and requires it to match the shipped one
byte for byte, so the two can never drift apart.
"""

from __future__ import annotations

from pathlib import Path

from teabox.builtins.catalog import BUILTINS, Builtin
from teabox.toolchain import build


def rebuild(builtin: Builtin, out: Path) -> bytes:
    """Build ``builtin``'s source into ``out``; returns the module."""
    return build([builtin.source], out).wasm


def main() -> None:
    for builtin in BUILTINS.values():
        wasm = rebuild(builtin, builtin.module)
        print(f"{builtin.module.name}: {len(wasm)} bytes")


if __name__ == "__main__":
    main()
