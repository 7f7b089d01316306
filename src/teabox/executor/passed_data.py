"""A sandbox process's inputs and outputs: descriptors its parent opened and passed with the request.

The sandbox process may not open files itself (its seccomp filter refuses
``open``), so the parent opens every input and output of a run and hands over
the descriptors. Each reader and writer keeps its own offset and uses
positional I/O, so opening an input twice gives two independent readers on one
descriptor, and creating an output again starts it over from empty.
"""

from __future__ import annotations

import io
import os
from collections.abc import Collection, Mapping
from typing import Any, BinaryIO, cast


class _PositionalReader(io.RawIOBase):
    def __init__(self, fd: int) -> None:
        super().__init__()
        self._fd = fd
        self._offset = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        n = os.preadv(self._fd, [buffer], self._offset)
        self._offset += n
        return n


class _PositionalWriter(io.RawIOBase):
    def __init__(self, fd: int) -> None:
        super().__init__()
        self._fd = fd
        self._offset = 0

    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        view = memoryview(data).cast("B")
        while view:
            written = os.pwrite(self._fd, view, self._offset)
            self._offset += written
            view = view[written:]
        return len(data)


class PassedInputs:
    """Inputs by data name; ``problems`` holds the inputs the parent could not open, with why."""

    def __init__(self, fds: Mapping[str, int], problems: Mapping[str, str]) -> None:
        self.fds = dict(fds)
        self.problems = dict(problems)

    def names(self) -> Collection[str]:
        return [*self.fds, *self.problems]

    def open(self, name: str) -> BinaryIO:
        if name in self.problems:
            raise OSError(self.problems[name])
        return cast(BinaryIO, _PositionalReader(self.fds[name]))


class PassedOutputs:
    """Outputs by data name; the parent commits or discards them once it has the result."""

    def __init__(self, fds: Mapping[str, int]) -> None:
        self.fds = dict(fds)

    def names(self) -> Collection[str]:
        return self.fds.keys()

    def create(self, name: str) -> BinaryIO:
        fd = self.fds[name]
        os.ftruncate(fd, 0)
        return cast(BinaryIO, _PositionalWriter(fd))

    def commit(self) -> None:
        """The parent commits."""

    def discard(self) -> None:
        """The parent discards."""
