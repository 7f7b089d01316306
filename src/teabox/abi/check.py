"""Decide, before anything runs, whether a module is a valid teabox payload.

Teaclave loaded modules with any imports and trapped only when one was
called; teabox refuses such a module up front and names every problem, with a
fix for the usual build mistakes.
"""

from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass, field
from typing import Any

import wasmtime

from teabox.abi.wasm_binary import FuncType, MalformedModule, MemoryType, read_layout
from teabox.errors import InvalidPayload

DEFAULT_MAX_PAYLOAD_BYTES = 64 * 1024 * 1024

_I32 = "i32"
HOST_FUNCTIONS: dict[str, FuncType] = {
    "teaclave_open_input": FuncType((_I32,), (_I32,)),
    "teaclave_create_output": FuncType((_I32,), (_I32,)),
    "teaclave_read_file": FuncType((_I32, _I32, _I32), (_I32,)),
    "teaclave_write_file": FuncType((_I32, _I32, _I32), (_I32,)),
    "teaclave_close_file": FuncType((_I32,), (_I32,)),
}
HOST_MODULE = "env"
ENTRYPOINT = "entrypoint"
ENTRYPOINT_TYPE = FuncType((_I32, _I32), (_I32,))

_LIBC_FIX = (
    "the compiler emitted a call to {name} (for example for `char buf[256] = {{0}}` or a struct copy) "
    "and the link left it undefined; build with `teabox build`, which supplies memset/memcpy/memmove, "
    "or define {name} in the payload, and never link with --allow-undefined"
)
_WASI_FIX = (
    "the module was built for WASI (a wasm32-wasi target or a libc with stdio); payloads have no system "
    "calls: build for wasm32 freestanding (`teabox build`, or Rust's wasm32-unknown-unknown) and remove "
    "printf, file I/O and main()"
)

_engine: wasmtime.Engine | None = None


def _validation_engine() -> wasmtime.Engine:
    global _engine
    if _engine is None:
        _engine = wasmtime.Engine()
    return _engine


@dataclass(frozen=True)
class ImportInfo:
    module: str
    name: str
    kind: str
    type: str | None


@dataclass(frozen=True)
class ExportInfo:
    name: str
    kind: str
    type: str | None


@dataclass(frozen=True)
class MemoryInfo:
    export_name: str | None
    min_pages: int
    max_pages: int | None
    imported: bool


@dataclass
class ModuleReport:
    """What a module imports and exports, and every reason it is not a valid payload."""

    size: int
    sha256: str
    imports: list[ImportInfo] = field(default_factory=list)
    exports: list[ExportInfo] = field(default_factory=list)
    memory: MemoryInfo | None = None
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["ok"] = self.ok
        return data


def _import_problem(module: str, name: str, kind: str, func_type: FuncType | None) -> str | None:
    where = f"{module}.{name}"
    if module == HOST_MODULE and name in HOST_FUNCTIONS:
        expected = HOST_FUNCTIONS[name]
        if kind != "func":
            return f"import {where} must be a function, not a {kind}"
        if func_type != expected:
            return f"import {where} has type {func_type}, but the host provides {expected}"
        return None
    if module == HOST_MODULE and name in ("memset", "memcpy", "memmove"):
        return f"import {where} is not provided by the host: {_LIBC_FIX.format(name=name)}"
    if module.startswith("wasi_"):
        return f"import {where} is not provided by the host: {_WASI_FIX}"
    if kind == "memory":
        return f"import {where} is a memory: the payload must define and export its own linear memory"
    return f"import {where} ({kind}) is not provided by the host; a payload may import only " + ", ".join(
        f"{HOST_MODULE}.{n}" for n in HOST_FUNCTIONS
    )


def _memory_problems(mem: MemoryType) -> list[str]:
    problems = []
    if mem.memory64:
        problems.append("the exported memory is 64-bit; payloads are wasm32")
    if mem.shared:
        problems.append("the exported memory is shared; payloads run single-threaded with a private memory")
    return problems


def inspect(payload: bytes, *, max_size: int = DEFAULT_MAX_PAYLOAD_BYTES) -> ModuleReport:
    """Report a module's imports, exports and memory, and whether it satisfies the ABI."""
    report = ModuleReport(size=len(payload), sha256=hashlib.sha256(payload).hexdigest())
    if len(payload) > max_size:
        report.problems.append(f"payload is {len(payload)} bytes, larger than the maximum of {max_size} bytes")
        return report
    try:
        layout = read_layout(payload)
    except MalformedModule as exc:
        report.problems.append(str(exc))
        return report
    try:
        wasmtime.Module.validate(_validation_engine(), payload)
    except wasmtime.WasmtimeError as exc:
        report.problems.append(f"malformed WebAssembly: {str(exc).strip().splitlines()[0]}")

    for imp in layout.imports:
        report.imports.append(ImportInfo(imp.module, imp.name, imp.kind, str(imp.func_type) if imp.func_type else None))
        problem = _import_problem(imp.module, imp.name, imp.kind, imp.func_type)
        if problem:
            report.problems.append(problem)

    exported_memories = []
    for exp in layout.exports:
        type_text = None
        if exp.kind == "func":
            ft = layout.function_type(exp.index)
            type_text = str(ft) if ft else None
        report.exports.append(ExportInfo(exp.name, exp.kind, type_text))
        if exp.kind == "memory":
            exported_memories.append(exp)

    entry = next((e for e in layout.exports if e.name == ENTRYPOINT), None)
    if entry is None:
        report.problems.append(
            f"no export named `{ENTRYPOINT}`: define `int entrypoint(int argc, char* argv[])` and export it"
        )
    elif entry.kind != "func":
        report.problems.append(f"export `{ENTRYPOINT}` is a {entry.kind}, not a function")
    elif layout.function_type(entry.index) != ENTRYPOINT_TYPE:
        report.problems.append(
            f"export `{ENTRYPOINT}` has type {layout.function_type(entry.index)}, expected {ENTRYPOINT_TYPE} "
            "(int entrypoint(int argc, char* argv[]))"
        )

    if not exported_memories:
        report.problems.append("the module exports no linear memory (export it as `memory`)")
    else:
        chosen = next((e for e in exported_memories if e.name == "memory"), exported_memories[0])
        mem = layout.memory_type(chosen.index)
        imported = chosen.index < sum(1 for i in layout.imports if i.kind == "memory")
        if mem is not None:
            report.memory = MemoryInfo(chosen.name, mem.min_pages, mem.max_pages, imported)
            report.problems.extend(_memory_problems(mem))
    return report


def check(payload: bytes, *, max_size: int = DEFAULT_MAX_PAYLOAD_BYTES) -> ModuleReport:
    """Like :func:`inspect`, but raise :class:`InvalidPayload` naming every problem."""
    report = inspect(payload, max_size=max_size)
    if not report.ok:
        raise InvalidPayload(report.problems)
    return report
