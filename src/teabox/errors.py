"""Exceptions shared by every layer.

Each layer raises a subclass of :class:`TeaboxError` so that callers can catch
teabox's own failures without swallowing programming errors.
"""

from __future__ import annotations


class TeaboxError(Exception):
    """Base class of every error teabox raises on purpose."""


class InvalidPayload(TeaboxError):
    """A module that does not satisfy the guest ABI; ``problems`` lists every reason."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = list(problems)
        super().__init__("invalid payload:\n" + "\n".join(f"  - {p}" for p in self.problems))


class InvalidArguments(TeaboxError):
    """Task arguments that cannot be passed to a payload (e.g. a NUL byte)."""
