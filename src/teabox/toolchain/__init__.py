"""Builds payloads from C, C++, Zig and Rust sources, checked against the guest ABI.

C, C++ and Zig use the Zig toolchain from the pinned ``ziglang`` package, so
installing teabox is all they need; Rust uses an installed cargo that can
target wasm32.
"""

from teabox.toolchain.build import BuildResult, build
from teabox.toolchain.errors import BuildError, ToolchainMissing
from teabox.toolchain.options import BuildOptions
from teabox.toolchain.process import tool_invocations
from teabox.toolchain.sdk import GUEST_DIR, INCLUDE_DIR, RUST_CRATE, ZIG_MODULE
from teabox.toolchain.sources import Language

__all__ = [
    "GUEST_DIR",
    "INCLUDE_DIR",
    "RUST_CRATE",
    "ZIG_MODULE",
    "BuildError",
    "BuildOptions",
    "BuildResult",
    "Language",
    "ToolchainMissing",
    "build",
    "tool_invocations",
]
