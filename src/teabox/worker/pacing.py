"""Keep every HTTP transfer of a worker within a total deadline and above a minimum rate.

A per-read timeout alone does not bound a transfer: a server that sends one
byte a second never lets a read time out, and would hold the worker (and the
task's lease) for as long as it likes. So each download or upload runs under a
:class:`TransferClock`, and every socket read and write of the worker's HTTP
client (:class:`PacedStream`) waits at most until the clock runs out: the
total deadline, or the moment the average rate since the grace period would
fall below the minimum.
"""

from __future__ import annotations

import contextvars
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import httpcore

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


def bound_timeout(timeout: float | None) -> float | None:
    """``timeout`` shortened by the current transfer's clock, if a transfer is running."""
    clock = _current.get()
    return timeout if clock is None else clock.bound(timeout)


class PacedStream(httpcore.NetworkStream):
    """A connection whose reads and writes wait no longer than the current transfer's clock allows."""

    def __init__(self, stream: httpcore.NetworkStream) -> None:
        self._stream = stream

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        with _clocked():
            data = self._stream.read(max_bytes, bound_timeout(timeout))
        _count(len(data))
        return data

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        with _clocked():
            self._stream.write(buffer, bound_timeout(timeout))
        _count(len(buffer))

    def close(self) -> None:
        self._stream.close()

    def start_tls(
        self, ssl_context: Any, server_hostname: str | None = None, timeout: float | None = None
    ) -> httpcore.NetworkStream:
        with _clocked():
            return PacedStream(self._stream.start_tls(ssl_context, server_hostname, bound_timeout(timeout)))

    def get_extra_info(self, info: str) -> Any:
        return self._stream.get_extra_info(info)


@contextmanager
def _clocked() -> Iterator[None]:
    """Report a wait that timed out because the clock ran out as the clock's reason, not as a timeout."""
    try:
        yield
    except (httpcore.ReadTimeout, httpcore.WriteTimeout, httpcore.ConnectTimeout):
        clock = _current.get()
        if clock is not None:
            clock.check(slack=0.05)
        raise


def _count(moved: int) -> None:
    clock = _current.get()
    if clock is not None:
        clock.count(moved)
        clock.check()
