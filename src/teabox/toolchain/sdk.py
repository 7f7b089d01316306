"""Where the guest SDK shipped with the package lives."""

from __future__ import annotations

from pathlib import Path

GUEST_DIR = Path(__file__).resolve().parent.parent / "guest"
INCLUDE_DIR = GUEST_DIR / "include"
ZIG_MODULE = GUEST_DIR / "zig" / "teabox.zig"
RUST_CRATE = GUEST_DIR / "rust" / "teabox-guest"
