"""Hostile payloads against the host functions: every call stays cheap and the run's record stays small."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import wasmtime
from support.wat_imports import HOST_IMPORTS

from teabox.abi.handles import MAX_NAME_BYTES
from teabox.executor import Executor, Limits, MemoryInputs
from teabox.executor.host import MAX_DIAGNOSTIC_CHARS, MAX_DIAGNOSTICS

MIB = 1 << 20


def _payload(body: str, pages: int = 1) -> bytes:
    return wasmtime.wat2wasm(
        f'(module {HOST_IMPORTS} (memory (export "memory") {pages})'
        '(func (export "entrypoint") (param $argc i32) (param $argv i32) (result i32) (local $i i32) (local $r i32)'
        f" {body}))"
    )


def _calls(count: int, call: str) -> str:
    """``call`` ``count`` times, returning the sum of what it returned."""
    return (
        f"(block (loop (br_if 1 (i32.ge_u (local.get $i) (i32.const {count})))"
        f" (local.set $r (i32.add (local.get $r) {call}))"
        " (local.set $i (i32.add (local.get $i) (i32.const 1))) (br 0))) (local.get $r)"
    )


@pytest.fixture(scope="module", params=["in-process", "subprocess"])
def executor(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Executor]:
    executor = Executor(tmp_path_factory.mktemp("cache"), isolation=request.param)
    yield executor
    executor.close()


def test_a_name_spanning_all_of_memory_is_refused_after_a_bounded_read(executor: Executor) -> None:
    # 16 MiB of 'a' with a NUL only in the last byte: every open scans no more than the bound.
    body = f"(memory.fill (i32.const 0) (i32.const 97) (i32.const {16 * MIB - 1}))" + _calls(
        2000, "(call $open (i32.const 0))"
    )
    result = executor.run(_payload(body, pages=256), inputs=MemoryInputs({"a": b"x"}), limits=Limits(timeout=30))
    assert result.ok, result.failure
    assert result.return_value == str(-2000)
    assert f"is longer than {MAX_NAME_BYTES} bytes; returned -1" in result.diagnostics[0]
    assert result.diagnostics[-1] == f"... and {2000 - MAX_DIAGNOSTICS} more"


def test_a_name_at_the_bound_is_read_whole(executor: Executor, tmp_path: Path) -> None:
    name = "n" * MAX_NAME_BYTES
    body = f"(i32.store8 (i32.const {MAX_NAME_BYTES}) (i32.const 0)) (call $open (i32.const 0))"
    wat = f'(data (i32.const 0) "{name}")'
    payload = wasmtime.wat2wasm(
        f'(module {HOST_IMPORTS} (memory (export "memory") 1) {wat}'
        f'(func (export "entrypoint") (param i32 i32) (result i32) {body}))'
    )
    result = executor.run(payload, inputs=MemoryInputs({name: b"x"}))
    assert result.return_value == "1", result


def test_diagnostics_are_bounded_in_count_and_size(executor: Executor) -> None:
    # Unknown names just under the bound, 5000 times: each diagnostic would quote 4 KiB.
    fill = f"(memory.fill (i32.const 0) (i32.const 98) (i32.const {MAX_NAME_BYTES}))"
    body = fill + _calls(5000, "(call $open (i32.const 1))")
    result = executor.run(_payload(body))
    assert result.ok, result.failure
    assert len(result.diagnostics) == MAX_DIAGNOSTICS + 1
    assert all(len(line) <= MAX_DIAGNOSTIC_CHARS for line in result.diagnostics)
    assert result.diagnostics[-1] == f"... and {5000 - MAX_DIAGNOSTICS} more"
