"""Sizes and durations as people write them (``64MiB``, ``250ms``).

Kept apart from the executor so that the platform commands can parse limits
without importing the WebAssembly engine, which the lean install leaves out.
"""

from __future__ import annotations

import re

MiB = 1024 * 1024

_SIZE_UNITS = {
    "": 1,
    "b": 1,
    "k": 1000,
    "kb": 1000,
    "kib": 1024,
    "m": 1000**2,
    "mb": 1000**2,
    "mib": 1024**2,
    "g": 1000**3,
    "gb": 1000**3,
    "gib": 1024**3,
}
_TIME_UNITS = {"": 1.0, "s": 1.0, "ms": 1e-3, "us": 1e-6, "m": 60.0, "min": 60.0, "h": 3600.0}
_NUMBER = re.compile(r"^\s*([0-9]+(?:\.[0-9]+)?)\s*([a-zA-Z]*)\s*$")


def parse_size(text: str) -> int:
    """``64MiB``, ``512k``, ``1048576`` -> bytes."""
    match = _NUMBER.match(text)
    unit = match.group(2).lower() if match else None
    if not match or unit not in _SIZE_UNITS:
        raise ValueError(f"not a size: {text!r} (examples: 64MiB, 512KiB, 1GiB, 1048576)")
    return int(float(match.group(1)) * _SIZE_UNITS[unit])


def parse_duration(text: str) -> float:
    """``5s``, ``250ms``, ``2m``, ``1.5`` -> seconds."""
    match = _NUMBER.match(text)
    unit = match.group(2).lower() if match else None
    if not match or unit not in _TIME_UNITS:
        raise ValueError(f"not a duration: {text!r} (examples: 5s, 250ms, 2m)")
    return float(match.group(1)) * _TIME_UNITS[unit]
