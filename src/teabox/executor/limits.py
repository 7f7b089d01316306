"""Per-run limits, each with a safe default, and parsing of their CLI spellings."""

from __future__ import annotations

import re
from dataclasses import dataclass

from teabox.abi.handles import MAX_OPENS

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


@dataclass(frozen=True)
class Limits:
    """What one run may use. Every limit ends the run with its own failure kind.

    ``fuel`` is off by default because instruction metering slows every loop;
    the wall-clock ``timeout`` is always on and costs almost nothing.
    """

    timeout: float = 5.0
    fuel: int | None = None
    memory: int = 64 * MiB
    stack: int = 1 * MiB
    max_output_bytes: int = 256 * MiB
    max_handles: int = MAX_OPENS

    def __post_init__(self) -> None:
        if not self.timeout > 0:
            raise ValueError(f"timeout must be positive, not {self.timeout}")
        if self.fuel is not None and self.fuel <= 0:
            raise ValueError(f"fuel must be positive, not {self.fuel}")
        if self.memory < 65536:
            raise ValueError(f"memory limit must be at least one 64 KiB page, not {self.memory} bytes")
        if not 64 * 1024 <= self.stack <= 4 * MiB:
            raise ValueError(f"stack limit must be between 64 KiB and 4 MiB, not {self.stack} bytes")
        if self.max_output_bytes < 0:
            raise ValueError(f"max_output_bytes must not be negative, not {self.max_output_bytes}")
        if not 0 <= self.max_handles <= MAX_OPENS:
            raise ValueError(f"max_handles must be between 0 and {MAX_OPENS}, not {self.max_handles}")
