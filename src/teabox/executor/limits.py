"""Per-run limits, each with a safe default (their CLI spellings are parsed by :mod:`teabox.units`)."""

from __future__ import annotations

from dataclasses import dataclass

from teabox.abi.handles import MAX_OPENS
from teabox.units import MiB, parse_duration, parse_size

__all__ = ["Limits", "MiB", "parse_duration", "parse_size"]


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
