"""The Zig toolchain from the pinned ``ziglang`` package: identity and availability."""

from __future__ import annotations

import importlib.metadata
import importlib.util

from teabox.toolchain.errors import ToolchainMissing

PINNED = "0.17.0"


def zig_fingerprint() -> str:
    """The ziglang version; raise ToolchainMissing with the install command if it is absent."""
    if importlib.util.find_spec("ziglang") is None:
        raise ToolchainMissing(
            "the Zig toolchain (Python package `ziglang`) is not installed; it compiles C, C++ and Zig payloads",
            fixes=[f"pip install '.[toolchain]' in a clone of teabox (or pip install ziglang=={PINNED})"],
        )
    return f"ziglang {importlib.metadata.version('ziglang')}"
