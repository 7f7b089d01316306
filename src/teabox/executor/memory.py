"""Linear memories that teabox allocates itself, so that a refused ``memory.grow`` is seen.

wasmtime's store limiter makes ``memory.grow`` past the limit return -1, which
is not a trap and leaves no trace: a payload that then traps for an unrelated
reason could not be told from one that was refused its allocation. The C API
has no limiter callback, but it lets the embedder allocate linear memories (a
"memory creator"): every grow of every memory then comes here, where the run's
limit is checked and each refusal recorded in the run's :class:`MemoryBudget`.

Memories are laid out as wasmtime asks: the whole reservation and guard region
are mapped inaccessible up front and made readable and writable as the memory
grows, so the compiled code's bounds-check elision stays sound and the memory
never moves.
"""

from __future__ import annotations

import ctypes
import itertools
import mmap
import threading
from dataclasses import dataclass

import wasmtime

from teabox.executor.wasmtime_private import LinearMemorySlot, MemoryCreator, SizeSlot, new_error

_WASM32_MAX_BYTES = 1 << 32

_libc = ctypes.CDLL(None, use_errno=True)
_libc.mmap.restype = ctypes.c_void_p
_libc.mmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int, ctypes.c_int, ctypes.c_int, ctypes.c_long]
_libc.mprotect.restype = ctypes.c_int
_libc.mprotect.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int]
_libc.munmap.restype = ctypes.c_int
_libc.munmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t]
_MAP_FAILED = ctypes.c_void_p(-1).value
_MAP_NORESERVE = 0x4000
_PROT_NONE = 0  # the mmap module spells it only from Python 3.13 on


@dataclass
class MemoryBudget:
    """One run's linear-memory limit and what it refused."""

    limit: int
    refused: int = 0  # how many grows (or initial sizes) the limit refused
    largest_refused: int = 0  # the largest size in bytes that was asked for and refused

    def allows(self, size: int) -> bool:
        if size <= self.limit:
            return True
        self.refused += 1
        self.largest_refused = max(self.largest_refused, size)
        return False


@dataclass
class _Memory:
    budget: MemoryBudget
    base: int
    mapped: int  # bytes mapped: the reservation plus the guard region
    capacity: int  # bytes the memory may grow to without moving
    size: int


_current = threading.local()
_memories: dict[int, _Memory] = {}
_keys = itertools.count(1)


def bind_budget(budget: MemoryBudget | None) -> None:
    """The budget of the memories this thread creates next (a run's instantiation)."""
    _current.budget = budget


def _protect(memory: _Memory, new_size: int) -> bool:
    if new_size <= memory.size:
        return True
    start = memory.base + memory.size
    status: int = _libc.mprotect(start, new_size - memory.size, mmap.PROT_READ | mmap.PROT_WRITE)
    return status == 0


def _get_memory(env: int, size_out: SizeSlot, capacity_out: SizeSlot) -> int:
    memory = _memories[env]
    size_out[0] = memory.size
    capacity_out[0] = memory.capacity
    return memory.base


def _grow_memory(env: int, new_size: int) -> int:
    try:
        return _grow(_memories[env], new_size)
    except Exception as exc:
        return new_error(f"growing a linear memory failed: {exc!r}")


def _grow(memory: _Memory, new_size: int) -> int:
    if not memory.budget.allows(new_size):
        return new_error(
            f"memory.grow to {new_size} bytes refused: the run's memory limit is {memory.budget.limit} bytes"
        )
    if new_size > memory.capacity or not _protect(memory, new_size):
        return new_error(f"memory.grow to {new_size} bytes failed: no address space reserved for it")
    memory.size = new_size
    return 0


def _release(env: int) -> None:
    memory = _memories.pop(env)
    _libc.munmap(memory.base, memory.mapped)


def _new_memory(minimum: int, maximum: int, reserved: int, guard: int, out: LinearMemorySlot) -> int:
    # An exception escaping a callback would leave wasmtime without a memory, which it cannot survive.
    try:
        return _create(minimum, maximum, reserved, guard, out)
    except Exception as exc:
        return new_error(f"creating a linear memory failed: {exc!r}")


def _create(
    minimum: int,
    maximum: int,
    reserved: int,
    guard: int,
    out: LinearMemorySlot,
) -> int:
    budget: MemoryBudget | None = getattr(_current, "budget", None)
    if budget is None:
        return new_error("a linear memory can only be created by a run")
    if not budget.allows(minimum):
        return new_error(
            f"the payload's initial memory of {minimum} bytes does not fit the memory limit of {budget.limit} bytes"
        )
    # Without a reservation from wasmtime (a dynamic memory) reserve all a wasm32 memory can reach,
    # so the memory never moves.
    capacity = reserved or min(maximum, _WASM32_MAX_BYTES)
    mapped = capacity + guard
    base = _libc.mmap(None, mapped, _PROT_NONE, mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS | _MAP_NORESERVE, -1, 0)
    if base is None or base == _MAP_FAILED:
        return new_error(f"cannot reserve {mapped} bytes of address space for a linear memory")
    memory = _Memory(budget, base, mapped, capacity, 0)
    if not _protect(memory, minimum):
        _libc.munmap(base, mapped)
        return new_error(f"cannot make {minimum} bytes of linear memory accessible")
    memory.size = minimum
    key = next(_keys)
    _memories[key] = memory
    _CREATOR.fill(out, key)
    return 0


_CREATOR = MemoryCreator(_new_memory, _get_memory, _grow_memory, _release)


def use_budgeted_memories(config: wasmtime.Config) -> None:
    """Make every linear memory of engines built from ``config`` come from here.

    Copy-on-write memory images only work with wasmtime's own memories (it panics otherwise),
    so data segments are copied in at instantiation instead.
    """
    config.memory_init_cow = False
    _CREATOR.install(config)
