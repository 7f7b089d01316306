"""The payload's view of data: readable inputs and writable outputs by data name.

The executor knows nothing of encryption or where data lives; the CLI binds
names to plain files, the platform to decrypted files in a task's staging
area, tests to bytes in memory.
"""

from __future__ import annotations

import io
import os
from collections.abc import Collection, Mapping
from pathlib import Path
from typing import BinaryIO, Protocol


class Inputs(Protocol):
    def names(self) -> Collection[str]:
        """Every input the run may open (a sandbox process is handed each of them up front)."""
        ...

    def open(self, name: str) -> BinaryIO:
        """A fresh reader at offset 0; ``KeyError`` if no input has that name."""
        ...


class Outputs(Protocol):
    def names(self) -> Collection[str]:
        """Every output the run is bound to; each must be created or the run fails."""
        ...

    def create(self, name: str) -> BinaryIO:
        """A new, empty writer (the last creation wins); ``KeyError`` if not bound."""
        ...

    def commit(self) -> None:
        """The run succeeded: make the outputs visible."""
        ...

    def discard(self) -> None:
        """The run failed: leave nothing behind."""
        ...


class FileInputs:
    def __init__(self, paths: Mapping[str, str | os.PathLike[str]] | None = None) -> None:
        self.paths = {name: Path(p) for name, p in (paths or {}).items()}

    def names(self) -> Collection[str]:
        return self.paths.keys()

    def open(self, name: str) -> BinaryIO:
        return open(self.paths[name], "rb")


class FileOutputs:
    """Writes each output to ``PATH.partial`` and renames it into place on commit."""

    def __init__(self, paths: Mapping[str, str | os.PathLike[str]] | None = None) -> None:
        self.paths = {name: Path(p) for name, p in (paths or {}).items()}

    def _partial(self, name: str) -> Path:
        path = self.paths[name]
        return path.with_name(path.name + ".partial")

    def names(self) -> Collection[str]:
        return self.paths.keys()

    def create(self, name: str) -> BinaryIO:
        return open(self._partial(name), "wb")

    def commit(self) -> None:
        for name in self.paths:
            if self._partial(name).exists():
                os.replace(self._partial(name), self.paths[name])

    def discard(self) -> None:
        for name in self.paths:
            self._partial(name).unlink(missing_ok=True)


class MemoryInputs:
    def __init__(self, data: Mapping[str, bytes] | None = None) -> None:
        self.data = dict(data or {})

    def names(self) -> Collection[str]:
        return self.data.keys()

    def open(self, name: str) -> BinaryIO:
        return io.BytesIO(self.data[name])


class Capture(io.BytesIO):
    """A BytesIO whose contents survive ``close()``."""

    def close(self) -> None:
        self.captured = self.getvalue()
        super().close()

    def contents(self) -> bytes:
        return self.captured if self.closed else self.getvalue()


class MemoryOutputs:
    """Collects outputs as bytes; ``results`` holds them after a successful run."""

    def __init__(self, names: Collection[str] = ()) -> None:
        self._names = list(names)
        self._streams: dict[str, Capture] = {}
        self.results: dict[str, bytes] = {}

    def names(self) -> Collection[str]:
        return self._names

    def create(self, name: str) -> BinaryIO:
        if name not in self._names:
            raise KeyError(name)
        self._streams[name] = Capture()
        return self._streams[name]

    def commit(self) -> None:
        self.results = {name: s.contents() for name, s in self._streams.items()}

    def discard(self) -> None:
        self.results = {}


NO_INPUTS = MemoryInputs()
