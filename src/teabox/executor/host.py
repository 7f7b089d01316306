"""The five ``env.teaclave_*`` host functions, bound to the run on this thread.

They are defined once per engine through wasmtime's raw ("unchecked") C
calling convention: a call from wasm into Python then costs a ctypes
trampoline and a few attribute lookups, not the generic conversion layer of
the high-level bindings. A pointer outside linear memory is a trap whose
message names the function and what it received; every other refusal is the
ABI's -1, with the reason recorded in the run's diagnostics.
"""

from __future__ import annotations

import ctypes
import threading
from dataclasses import dataclass, field
from typing import BinaryIO

import wasmtime

from teabox.abi.handles import MAX_NAME_BYTES, Handle, HandleRefused, HandleTable
from teabox.executor.channels import CHANNELS, MAX_CHANNEL_BYTES
from teabox.executor.data import Capture, Inputs, Outputs
from teabox.executor.memory import MemoryBudget
from teabox.executor.result import FileStats
from teabox.executor.wasmtime_private import (
    RawMemory,
    RawValues,
    define_unchecked_func,
    new_trap,
    unchecked_callback,
)
from teabox.executor.wasmtime_private import memory_data as _memory_data
from teabox.executor.wasmtime_private import memory_data_size as _memory_data_size

# A run keeps at most this many diagnostics, each cut to MAX_DIAGNOSTIC_CHARS, and counts the rest:
# a payload calling in a loop must not turn its task record into megabytes.
MAX_DIAGNOSTICS = 200
MAX_DIAGNOSTIC_CHARS = 500


class HostTrap(Exception):
    """Raised inside a host function to turn the call into a trap."""


@dataclass
class RunContext:
    """Everything a run's host calls touch; one per run, owned by one thread."""

    inputs: Inputs
    outputs: Outputs
    max_output_bytes: int
    table: HandleTable[BinaryIO]
    memory_budget: MemoryBudget
    context: int = 0  # wasmtime_context_t*
    memory: RawMemory | None = None
    memory_address: int = 0  # address of the wasmtime_memory_t above
    files: dict[str, FileStats] = field(default_factory=dict)
    created: set[str] = field(default_factory=set)
    channels: dict[str, Capture] = field(default_factory=dict)  # the text channels the payload created
    diagnostics: list[str] = field(default_factory=list)
    dropped_diagnostics: int = 0
    bytes_written: int = 0
    output_limit_hit: bool = False
    host_trap: str | None = None
    host_error: str | None = None

    def note(self, message: str) -> None:
        if len(self.diagnostics) < MAX_DIAGNOSTICS:
            if len(message) > MAX_DIAGNOSTIC_CHARS:
                message = message[: MAX_DIAGNOSTIC_CHARS - 1] + "…"
            self.diagnostics.append(message)
        else:
            self.dropped_diagnostics += 1

    def stats(self, name: str) -> FileStats:
        stats = self.files.get(name)
        if stats is None:
            stats = self.files[name] = FileStats()
        return stats

    # -- linear memory --------------------------------------------------------

    def _span(self, func: str, what: str, ptr: int, size: int) -> int:
        """The host address of ``[ptr, ptr+size)``, or a trap naming the call."""
        if size < 0:
            raise HostTrap(f"{func} received a negative size {size}")
        length = _memory_data_size(self.context, self.memory_address)
        if ptr + size > length:
            raise HostTrap(
                f"{func} received {what} [{ptr:#x}, {ptr + size:#x}) outside linear memory of {length} bytes"
            )
        return _memory_data(self.context, self.memory_address) + ptr

    def buffer(self, func: str, ptr: int, size: int) -> ctypes.Array[ctypes.c_ubyte]:
        address = self._span(func, "buffer", ptr, size)
        return (ctypes.c_ubyte * size).from_address(address)

    def name(self, func: str, ptr: int) -> str | None:
        """The NUL-terminated data name at ``ptr``; None (and a note) if it is too long or not UTF-8.

        One bounded read whatever the payload points at: at most MAX_NAME_BYTES plus the NUL.
        """
        length = _memory_data_size(self.context, self.memory_address)
        if ptr >= length:
            raise HostTrap(f"{func} received name pointer {ptr:#x} outside linear memory of {length} bytes")
        base = _memory_data(self.context, self.memory_address)
        window = ctypes.string_at(base + ptr, min(MAX_NAME_BYTES + 1, length - ptr))
        end = window.find(b"\0")
        if end < 0:
            if ptr + len(window) >= length:
                raise HostTrap(f"{func} received a name at {ptr:#x} with no NUL before the end of linear memory")
            self.note(f"{func}: the name at {ptr:#x} is longer than {MAX_NAME_BYTES} bytes; returned -1")
            return None
        try:
            return window[:end].decode("utf-8")
        except UnicodeDecodeError:
            self.note(f"{func}: the name at {ptr:#x} is not UTF-8; returned -1")
            return None


_current = threading.local()


def bind(context: RunContext | None) -> None:
    _current.ctx = context


def _open_stream(ctx: RunContext, func: str, fid: int, writable: bool) -> tuple[str, BinaryIO] | None:
    """The data name at ``fid`` and a new stream for it, or None (with the reason noted) for -1."""
    name = ctx.name(func, fid)
    if name is None:
        return None
    kind, verb = ("output", "created") if writable else ("input", "opened")
    try:
        ctx.table.reserve_check()
        stream: BinaryIO
        if writable and name in CHANNELS:
            stream = ctx.channels[name] = Capture()
        else:
            stream = ctx.outputs.create(name) if writable else ctx.inputs.open(name)
    except HandleRefused as exc:
        ctx.note(f"{func}({name!r}): {exc}; returned -1")
    except KeyError:
        ctx.note(f"{func}({name!r}): the task has no {kind} named {name!r}; returned -1")
    except OSError as exc:
        ctx.note(f"{func}({name!r}): {kind} cannot be {verb} ({exc}); returned -1")
    else:
        return name, stream
    return None


def _open_input(ctx: RunContext, fid: int) -> int:
    opened = _open_stream(ctx, "teaclave_open_input", fid, writable=False)
    if opened is None:
        return -1
    name, stream = opened
    ctx.stats(name)
    return ctx.table.add(name, stream, writable=False)


def _create_output(ctx: RunContext, fid: int) -> int:
    func = "teaclave_create_output"
    opened = _open_stream(ctx, func, fid, writable=True)
    if opened is None:
        return -1
    name, stream = opened
    for earlier in ctx.table.handles_of(name, writable=True):
        # The last creation wins: earlier writers of the same output stop here.
        ctx.table.remove(earlier).stream.close()
        ctx.note(f"{func}({name!r}): output created again; handle {earlier} was closed")
    ctx.created.add(name)
    ctx.stats(name).written = 0
    return ctx.table.add(name, stream, writable=True)


def _open_handle(ctx: RunContext, func: str, fd: int, *, writable: bool) -> Handle[BinaryIO] | None:
    """The open handle ``fd`` of the right kind, or None (with the reason noted) for -1."""
    try:
        return ctx.table.get(fd, writable=writable)
    except HandleRefused as exc:
        ctx.note(f"{func}({fd}): {exc}; returned -1")
        return None


def _read_file(ctx: RunContext, fd: int, buf: int, size: int) -> int:
    func = "teaclave_read_file"
    view = ctx.buffer(func, buf, size)
    handle = _open_handle(ctx, func, fd, writable=False)
    if handle is None:
        return -1
    try:
        # typing.BinaryIO omits readinto, which every binary reader of the io module has.
        n = handle.stream.readinto(view) or 0  # type: ignore[attr-defined]
    except OSError as exc:
        ctx.host_error = f"reading input {handle.name!r} failed: {exc}"
        raise HostTrap(ctx.host_error) from exc
    ctx.files[handle.name].read += n
    return n


def _write_file(ctx: RunContext, fd: int, buf: int, size: int) -> int:
    func = "teaclave_write_file"
    view = ctx.buffer(func, buf, size)
    handle = _open_handle(ctx, func, fd, writable=True)
    if handle is None:
        return -1
    channel = ctx.channels.get(handle.name)
    if channel is not None and channel.tell() + size > MAX_CHANNEL_BYTES:
        ctx.output_limit_hit = True
        ctx.note(
            f"{func}({fd}) to {handle.name!r}: a text channel holds at most {MAX_CHANNEL_BYTES} bytes; returned -1"
        )
        return -1
    if ctx.bytes_written + size > ctx.max_output_bytes:
        ctx.output_limit_hit = True
        ctx.note(
            f"{func}({fd}) to {handle.name!r}: writing {size} more bytes would exceed the output limit "
            f"of {ctx.max_output_bytes} bytes; returned -1"
        )
        return -1
    try:
        handle.stream.write(view)
    except OSError as exc:
        ctx.host_error = f"writing output {handle.name!r} failed: {exc}"
        raise HostTrap(ctx.host_error) from exc
    ctx.bytes_written += size
    ctx.files[handle.name].written += size
    return size


def _close_file(ctx: RunContext, fd: int) -> int:
    try:
        handle = ctx.table.remove(fd)
    except HandleRefused as exc:
        ctx.note(f"teaclave_close_file({fd}): {exc}; returned -1")
        return -1
    try:
        handle.stream.close()
    except OSError as exc:
        ctx.host_error = f"closing {handle.name!r} failed: {exc}"
        raise HostTrap(ctx.host_error) from exc
    return 0


def _unsigned(value: int) -> int:
    return value & 0xFFFFFFFF


def _callback(body, arity: int):  # type: ignore[no-untyped-def]
    """Wrap ``body(ctx, *i32 args) -> int`` as a raw wasmtime callback."""

    def raw(env: int, caller: object, values: RawValues, count: int) -> int:
        ctx: RunContext = _current.ctx
        try:
            if arity == 1:
                values[0].i32 = body(ctx, _unsigned(values[0].i32))
            else:
                values[0].i32 = body(ctx, values[0].i32, _unsigned(values[1].i32), values[2].i32)
            return 0
        except HostTrap as exc:
            ctx.host_trap = str(exc)
            return new_trap(str(exc))
        except Exception as exc:
            ctx.host_error = f"internal error in a host function: {exc!r}"
            return new_trap(ctx.host_error)

    return unchecked_callback(raw)


_I32 = wasmtime.ValType.i32()
_FUNCTIONS = {
    "teaclave_open_input": (_callback(_open_input, 1), 1),
    "teaclave_create_output": (_callback(_create_output, 1), 1),
    "teaclave_read_file": (_callback(_read_file, 3), 3),
    "teaclave_write_file": (_callback(_write_file, 3), 3),
    "teaclave_close_file": (_callback(_close_file, 1), 1),
}


def define_host_functions(linker: wasmtime.Linker) -> None:
    """Add the five functions to ``linker``; the callbacks are module-level, so they outlive it."""
    for name, (callback, arity) in _FUNCTIONS.items():
        define_unchecked_func(linker, "env", name, wasmtime.FuncType([_I32] * arity, [_I32]), callback)
