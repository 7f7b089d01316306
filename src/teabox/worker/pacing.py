"""Keep every HTTP transfer of a worker within a total deadline and above a minimum rate.

A per-read timeout alone does not bound a transfer: a server that sends one
byte a second never lets a read time out, and would hold the worker (and the
task's lease) for as long as it likes. So each download or upload runs under a
:class:`TransferClock`, and every socket read and write of the worker's HTTP
client (:mod:`teabox.worker.http_client`) waits at most until the clock runs out: the
total deadline, or the moment the average rate since the grace period would
fall below the minimum.
"""

from __future__ import annotations

import contextvars
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from teabox.errors import TeaboxError


class TransferTooSlow(TeaboxError):
    """A transfer ran past its deadline or below its minimum rate; the message says which."""


@dataclass(frozen=True)
class Pace:
    """How long one transfer may take in all, and how slow it may be after a grace period."""

    deadline_seconds: float = 600.0
    min_bytes_per_second: int = 32 * 1024
    grace_seconds: float = 10.0

    def __post_init__(self) -> None:
        if self.deadline_seconds <= 0 or self.min_bytes_per_second < 0 or self.grace_seconds < 0:
            raise ValueError(f"a transfer deadline must be positive and rates and grace not negative: {self}")


class TransferClock:
    """The time and bytes one transfer has used, against its :class:`Pace`."""

    def __init__(self, pace: Pace) -> None:
        self.pace = pace
        self.started = time.monotonic()
        self.moved = 0

    def _limit(self) -> tuple[float, str]:
        """The elapsed time at which the transfer fails, and why it would."""
        deadline = self.pace.deadline_seconds
        reason = f"did not finish within its {deadline:g}-second deadline"
        if self.pace.min_bytes_per_second:
            too_slow_at = self.pace.grace_seconds + self.moved / self.pace.min_bytes_per_second
            if too_slow_at < deadline:
                return too_slow_at, (
                    f"was slower than the minimum of {self.pace.min_bytes_per_second} bytes per second "
                    f"({self.moved} bytes in {time.monotonic() - self.started:.1f} s)"
                )
        return deadline, reason

    def bound(self, timeout: float | None, *, slack: float = 0.0) -> float:
        """``timeout`` shortened so that a wait ends when the clock runs out; raises if it has."""
        limit, reason = self._limit()
        left = limit - (time.monotonic() - self.started)
        if left <= slack:
            raise TransferTooSlow(reason)
        return left if timeout is None else min(timeout, left)

    def count(self, moved: int) -> None:
        self.moved += moved

    def check(self, *, slack: float = 0.0) -> None:
        """Raise if the clock has run out; ``slack`` absorbs a socket timeout that fires a little early."""
        self.bound(None, slack=slack)


_current: contextvars.ContextVar[TransferClock | None] = contextvars.ContextVar("teabox_transfer_clock", default=None)


@contextmanager
def paced(pace: Pace) -> Iterator[TransferClock]:
    """Run one transfer under a fresh clock: every paced read and write in this block obeys it."""
    clock = TransferClock(pace)
    token = _current.set(clock)
    try:
        yield clock
    finally:
        _current.reset(token)


def current_clock() -> TransferClock | None:
    """The clock of the transfer running in this thread, if one is."""
    return _current.get()


def bound_timeout(timeout: float | None) -> float | None:
    """``timeout`` shortened by the current transfer's clock, if a transfer is running."""
    clock = _current.get()
    return timeout if clock is None else clock.bound(timeout)
