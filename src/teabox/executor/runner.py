"""One payload, one fresh store and instance, on the calling thread.

A payload's misbehaviour never raises: traps, limits and missing outputs come
back as a failed :class:`RunResult`. Only the caller's own mistakes (arguments
with a NUL byte, impossible limits) raise.
"""

from __future__ import annotations

import ctypes
import hashlib
import threading
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, BinaryIO

import wasmtime

from teabox.abi.argv import argv_strings, layout_argv
from teabox.abi.check import DEFAULT_MAX_PAYLOAD_BYTES, ENTRYPOINT, inspect
from teabox.abi.handles import HandleTable
from teabox.executor import host
from teabox.executor.cache import CachedModule, ModuleCache
from teabox.executor.channels import ERROR_CHANNEL, RESULT_CHANNEL, decode
from teabox.executor.data import NO_INPUTS, Inputs, MemoryOutputs, Outputs
from teabox.executor.engine import EngineSpec, deadline_ticks, engine_for
from teabox.executor.limits import Limits
from teabox.executor.memory import MemoryBudget, bind_budget
from teabox.executor.result import Failure, RunResult
from teabox.executor.wasmtime_private import (
    RawMemory,
    call_i32_i32_to_i32,
    export_func,
    export_memory,
    memory_data_size,
    memory_object,
    store_context,
)
from teabox.failure_kinds import FailureKind

PAGE = 65536


class _Failed(Exception):
    def __init__(self, kind: FailureKind, message: str, backtrace: list[str] | None = None) -> None:
        super().__init__(message)
        self.failure = Failure(kind, message, backtrace or [])


def _backtrace(trap: wasmtime.Trap) -> list[str]:
    """One line per frame, with runs of identical frames (deep recursion) folded into one."""
    lines: list[str] = []
    previous, repeats = "", 0
    for frame in trap.frames:
        name = frame.func_name or f"<function {frame.func_index}>"
        offset = frame.module_offset
        line = f"{name} at module offset {offset:#x}" if offset < 2**32 else f"{name}"
        if line == previous:
            repeats += 1
            continue
        if repeats:
            lines.append(f"  ... {previous} repeated {repeats} more times")
        lines.append(line)
        previous, repeats = line, 0
    if repeats:
        lines.append(f"  ... {previous} repeated {repeats} more times")
    return lines


def _trap_message(trap: wasmtime.Trap) -> str:
    """The cause wasmtime reports after its own backtrace, e.g. "integer divide by zero"."""
    text = trap.message or ""
    cause = text.split("Caused by:")[-1].strip().splitlines()
    line = cause[-1].strip() if cause else "trap"
    return line.removeprefix("wasm trap: ")


class InProcessRunner:
    """Runs payloads on the caller's thread; safe to share between threads.

    With ``engine_deadline`` the wall-clock limit is enforced by epoch
    interruption inside the engine. Without it the caller must enforce the
    deadline from outside (the sandbox process does, by killing the process).
    Compiled modules are cached in memory and on disk, so a payload is compiled
    once per machine and engine configuration, not once per run.
    """

    def __init__(
        self,
        cache_dir: Path | None = None,
        *,
        max_payload_bytes: int = DEFAULT_MAX_PAYLOAD_BYTES,
        engine_deadline: bool = True,
        disk_cache: bool = True,
    ) -> None:
        self.cache = ModuleCache(cache_dir, disk=disk_cache)
        self.max_payload_bytes = max_payload_bytes
        self.engine_deadline = engine_deadline
        self._checked: dict[str, list[str]] = {}
        self._linkers: dict[EngineSpec, wasmtime.Linker] = {}
        self._lock = threading.Lock()

    # -- preparation ----------------------------------------------------------

    def _problems(self, payload: bytes, sha256: str) -> list[str]:
        problems = self._checked.get(sha256)
        if problems is None:
            problems = self._checked[sha256] = inspect(payload, max_size=self.max_payload_bytes).problems
        return problems

    def _pre(self, spec: EngineSpec, entry: CachedModule) -> wasmtime.InstancePre:
        if entry.pre is None:
            with self._lock:
                linker = self._linkers.get(spec)
                if linker is None:
                    linker = self._linkers[spec] = wasmtime.Linker(engine_for(spec))
                    host.define_host_functions(linker)
                if entry.pre is None:
                    entry.pre = linker.instantiate_pre(entry.module)
        return entry.pre

    def _spec(self, limits: Limits) -> EngineSpec:
        return EngineSpec(epoch=self.engine_deadline, fuel=limits.fuel is not None, stack=limits.stack)

    def compiled_artifact(self, sha256: str, limits: Limits) -> bytes | None:
        """The serialized module that runs under ``limits`` used, if this runner holds it."""
        return self.cache.artifact(self._spec(limits), sha256)

    # -- running --------------------------------------------------------------

    def run(
        self,
        payload: bytes,
        args: Mapping[str, Any] | None = None,
        inputs: Inputs | None = None,
        outputs: Outputs | None = None,
        limits: Limits | None = None,
        on_start: Callable[[], None] | None = None,
        sha256: str | None = None,
        artifact: bytes | None = None,
    ) -> RunResult:
        """Run ``entrypoint(argc, argv)`` of ``payload`` with the given data and limits.

        The time limit covers the whole run, compiling included: a module that
        takes longer to compile than the limit fails with ``timeout`` before it
        starts. ``on_start`` is called once the module is compiled, just before
        the payload's first instruction can run. ``sha256`` is the payload's
        hash when the caller has it already (the sandbox's parent does), so a
        large payload is not hashed twice per run; ``artifact`` is a compiled
        artifact the caller read from its disk cache.
        """
        limits = limits or Limits()
        outputs = outputs if outputs is not None else MemoryOutputs()
        strings = argv_strings(args or {})
        started = time.perf_counter()
        result = RunResult()
        ctx = host.RunContext(
            inputs=inputs if inputs is not None else NO_INPUTS,
            outputs=outputs,
            max_output_bytes=limits.max_output_bytes,
            table=HandleTable[BinaryIO](max_opens=limits.max_handles),
            memory_budget=MemoryBudget(limits.memory),
        )
        store: wasmtime.Store | None = None
        try:
            sha256 = sha256 or hashlib.sha256(payload).hexdigest()
            problems = self._problems(payload, sha256)
            if problems:
                raise _Failed(FailureKind.INVALID_PAYLOAD, "; ".join(problems))
            spec = self._spec(limits)
            entry, result.module_source = self.cache.get(spec, payload, sha256, artifact)
            pre = self._pre(spec, entry)
            preparing = time.perf_counter() - started
            if preparing >= limits.timeout:
                raise _Failed(
                    FailureKind.TIMEOUT,
                    f"compiling the payload took {preparing:.2f} s, all of its time limit of {limits.timeout:g} s",
                )
            if on_start is not None:
                on_start()
            store = wasmtime.Store(engine_for(spec))
            if spec.epoch:
                store.set_epoch_deadline(deadline_ticks(limits.timeout - preparing))
            if limits.fuel is not None:
                store.set_fuel(limits.fuel)
            result.return_value = self._call(store, pre, strings, ctx, limits)
            text = self._channel_result(ctx)  # first: a payload's own error explains any missing output
            self._check_outputs(ctx, limits)
            if text is not None:
                result.return_value = text
        except _Failed as failed:
            result.failure = failed.failure
        finally:
            host.bind(None)
            bind_budget(None)
            for fd in list(ctx.table.open_handles):
                try:
                    ctx.table.remove(fd).stream.close()
                except OSError as exc:
                    ctx.note(f"closing handle {fd} at the end of the run failed: {exc}")
            if store is not None:
                if limits.fuel is not None:
                    result.fuel_used = limits.fuel - store.get_fuel()
                if ctx.memory is not None:
                    result.peak_memory = memory_data_size(ctx.context, ctx.memory_address)
        if result.failure is None:
            outputs.commit()
        else:
            result.return_value = None
            outputs.discard()
        result.files = ctx.files
        result.diagnostics = ctx.diagnostics
        if ctx.dropped_diagnostics:
            result.diagnostics.append(f"... and {ctx.dropped_diagnostics} more")
        result.wall_time = time.perf_counter() - started
        return result

    def close(self) -> None:
        """Nothing to release: a run's store and instance are gone when it returns, and caches stay warm."""

    def _call(
        self,
        store: wasmtime.Store,
        pre: wasmtime.InstancePre,
        strings: list[bytes],
        ctx: host.RunContext,
        limits: Limits,
    ) -> str:
        ctx.context = store_context(store)
        host.bind(ctx)
        bind_budget(ctx.memory_budget)
        try:
            instance = pre.instantiate(store)
        except wasmtime.Trap as trap:
            raise self._classify(trap, ctx, store, limits) from None
        except wasmtime.WasmtimeError as exc:
            if ctx.memory_budget.refused:
                raise _Failed(
                    FailureKind.MEMORY_LIMIT,
                    f"the payload's initial memory of {ctx.memory_budget.largest_refused} bytes does not fit the "
                    f"memory limit of {limits.memory} bytes",
                ) from None
            message = str(exc).strip().splitlines()[0]
            raise _Failed(FailureKind.HOST_ERROR, f"instantiation failed: {message}") from None

        memory = export_memory(store, instance, "memory")
        if memory is None:
            raise _Failed(FailureKind.INVALID_PAYLOAD, "the module exports no linear memory named `memory`")
        ctx.memory = memory
        ctx.memory_address = ctypes.addressof(memory)
        entry = export_func(store, instance, ENTRYPOINT)
        if entry is None:
            raise _Failed(FailureKind.INVALID_PAYLOAD, "the module exports no function `entrypoint`")

        argc, argv = self._place_argv(store, memory, strings, limits)
        try:
            return str(call_i32_i32_to_i32(store, entry, argc, argv))
        except wasmtime.Trap as trap:
            if ctx.host_error is not None:
                raise _Failed(FailureKind.HOST_ERROR, ctx.host_error) from None
            raise self._classify(trap, ctx, store, limits) from None
        except wasmtime.WasmtimeError as exc:
            # A trap raised by a host function comes back as an error, not a trap.
            if ctx.host_error is not None:
                raise _Failed(FailureKind.HOST_ERROR, ctx.host_error) from None
            if ctx.host_trap is not None:
                raise _Failed(FailureKind.TRAP, ctx.host_trap) from None
            raise _Failed(FailureKind.HOST_ERROR, f"calling entrypoint failed: {str(exc).strip()}") from None

    def _place_argv(
        self, store: wasmtime.Store, raw_memory: RawMemory, strings: list[bytes], limits: Limits
    ) -> tuple[int, int]:
        """Grow the memory and write argv at its old end (the module owns everything below)."""
        memory = memory_object(raw_memory)
        old_size = memory.data_len(store)
        block = layout_argv(strings, old_size)
        pages = -(-len(block.data) // PAGE)
        try:
            memory.grow(store, pages)
        except wasmtime.WasmtimeError as exc:
            if old_size + pages * PAGE > limits.memory:
                raise _Failed(
                    FailureKind.MEMORY_LIMIT,
                    f"no room for the {len(block.data)}-byte argv block: memory would exceed the limit of "
                    f"{limits.memory} bytes",
                ) from None
            raise _Failed(
                FailureKind.HOST_ERROR,
                f"cannot grow the payload's memory to place argv ({str(exc).strip()}); "
                "the module's declared maximum memory is too small",
            ) from None
        base = ctypes.cast(memory.data_ptr(store), ctypes.c_void_p).value or 0
        ctypes.memmove(base + old_size, block.data, len(block.data))
        return block.argc, block.argv_address

    def _classify(self, trap: wasmtime.Trap, ctx: host.RunContext, store: wasmtime.Store, limits: Limits) -> _Failed:
        code = trap.trap_code
        backtrace = _backtrace(trap)
        if ctx.host_error is not None:
            return _Failed(FailureKind.HOST_ERROR, ctx.host_error, backtrace)
        if ctx.host_trap is not None:
            return _Failed(FailureKind.TRAP, ctx.host_trap, backtrace)
        if code == wasmtime.TrapCode.INTERRUPT:
            return _Failed(FailureKind.TIMEOUT, f"the run exceeded its time limit of {limits.timeout:g} s", backtrace)
        if code == wasmtime.TrapCode.OUT_OF_FUEL:
            return _Failed(FailureKind.OUT_OF_FUEL, f"the run used all of its {limits.fuel} units of fuel", backtrace)
        if code == wasmtime.TrapCode.STACK_OVERFLOW:
            return _Failed(
                FailureKind.TRAP,
                f"stack overflow: the wasm call stack exceeded its limit of {limits.stack} bytes "
                "(deep or endless recursion)",
                backtrace,
            )
        message = _trap_message(trap)
        budget = ctx.memory_budget
        if budget.refused:
            # A refused memory.grow returns -1 rather than trapping; a payload that traps after one
            # has, in practice, failed for want of the memory it asked for.
            return _Failed(
                FailureKind.MEMORY_LIMIT,
                f"memory.grow to {budget.largest_refused} bytes was refused by the memory limit of "
                f"{limits.memory} bytes ({budget.refused} refusal{'s' if budget.refused > 1 else ''}), "
                f"and the payload then trapped: {message}",
                backtrace,
            )
        return _Failed(FailureKind.TRAP, message, backtrace)

    @staticmethod
    def _channel_result(ctx: host.RunContext) -> str | None:
        """The result channel's text, if the payload created it; a failure if it wrote the error channel."""
        try:
            error = ctx.channels.get(ERROR_CHANNEL)
            if error is not None:
                raise _Failed(FailureKind.FUNCTION_ERROR, decode(ERROR_CHANNEL, error.contents()))
            text = ctx.channels.get(RESULT_CHANNEL)
            return None if text is None else decode(RESULT_CHANNEL, text.contents())
        except ValueError as exc:
            raise _Failed(FailureKind.FUNCTION_ERROR, str(exc)) from None

    @staticmethod
    def _check_outputs(ctx: host.RunContext, limits: Limits) -> None:
        if ctx.output_limit_hit:
            raise _Failed(
                FailureKind.OUTPUT_LIMIT,
                f"the payload tried to write more than the output limit of {limits.max_output_bytes} bytes",
            )
        missing = [name for name in ctx.outputs.names() if name not in ctx.created]
        if missing:
            raise _Failed(
                FailureKind.MISSING_OUTPUT,
                "the payload never created output " + ", ".join(repr(n) for n in sorted(missing)),
            )
