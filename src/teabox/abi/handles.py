"""The per-run handle table behind the five ``teaclave_*`` file functions.

Handle numbers are part of the ABI: one counter per run starting at 1, never
reused; read handles are ``n`` and write handles ``0x40000000 | n``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Generic, TypeVar

WRITE_FLAG = 0x40000000
MAX_OPENS = 1023
# A data name longer than this gets -1 (with a diagnostic): the host reads at most this much to find its NUL,
# so a name pointer costs the same whatever the memory around it holds.
MAX_NAME_BYTES = 4096

S = TypeVar("S")


class HandleRefused(Exception):
    """Why a call gets -1; the message goes into the run's diagnostics."""


@dataclass
class Handle(Generic[S]):
    name: str
    stream: S
    writable: bool


@dataclass
class HandleTable(Generic[S]):
    max_opens: int = MAX_OPENS
    opens: int = 0
    open_handles: dict[int, Handle[S]] = field(default_factory=dict)

    def add(self, name: str, stream: S, *, writable: bool) -> int:
        self.reserve_check()
        self.opens += 1
        fd = (WRITE_FLAG | self.opens) if writable else self.opens
        self.open_handles[fd] = Handle(name, stream, writable)
        return fd

    def reserve_check(self) -> None:
        """Refuse before opening anything when no handle number is left."""
        if self.opens >= self.max_opens:
            raise HandleRefused(f"the run already opened or created {self.max_opens} files, the limit")

    def get(self, fd: int, *, writable: bool) -> Handle[S]:
        handle = self.open_handles.get(fd)
        if handle is None:
            raise HandleRefused(f"handle {fd} is not open")
        if handle.writable != writable:
            kind = "an input (read) handle" if not handle.writable else "an output (write) handle"
            raise HandleRefused(f"handle {fd} is {kind} of {handle.name!r}")
        return handle

    def remove(self, fd: int) -> Handle[S]:
        handle = self.open_handles.pop(fd, None)
        if handle is None:
            raise HandleRefused(f"handle {fd} is not open (unknown or already closed)")
        return handle

    def handles_of(self, name: str, *, writable: bool) -> list[int]:
        return [fd for fd, h in self.open_handles.items() if h.name == name and h.writable == writable]
