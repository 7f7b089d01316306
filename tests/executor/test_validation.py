"""Every reason a module is refused before it runs."""

from __future__ import annotations

import pytest
import wasmtime

from teabox.abi import check, inspect
from teabox.errors import InvalidPayload
from teabox.executor import Executor, FailureKind

GOOD = '(memory (export "memory") 1) (func (export "entrypoint") (param i32 i32) (result i32) (i32.const 0))'


def problems(text: str, **kwargs) -> list[str]:
    return inspect(wasmtime.wat2wasm(f"(module {text})"), **kwargs).problems


def test_a_valid_module_has_no_problems() -> None:
    report = inspect(wasmtime.wat2wasm(f"(module {GOOD})"))
    assert report.ok
    assert report.memory is not None and report.memory.export_name == "memory"
    assert [e.name for e in report.exports] == ["memory", "entrypoint"]


def test_not_wasm() -> None:
    assert "not a WebAssembly module" in inspect(b"#!/bin/sh\necho hi\n").problems[0]


def test_malformed() -> None:
    good = wasmtime.wat2wasm(f"(module {GOOD})")
    report = inspect(good[:-3])
    assert not report.ok and report.problems


def test_missing_entrypoint_and_memory_are_both_named() -> None:
    found = problems('(func (export "main") (result i32) (i32.const 0))')
    assert any("no export named `entrypoint`" in p for p in found)
    assert any("exports no linear memory" in p for p in found)


def test_entrypoint_of_the_wrong_type() -> None:
    found = problems('(memory (export "memory") 1) (func (export "entrypoint") (param i32) (result i32) (i32.const 0))')
    assert any("has type (i32) -> (i32), expected (i32, i32) -> (i32)" in p for p in found)


def test_foreign_imports_are_named_with_fixes() -> None:
    found = problems(
        '(import "env" "memset" (func (param i32 i32 i32) (result i32)))'
        '(import "env" "memcpy" (func (param i32 i32 i32) (result i32)))'
        '(import "wasi_snapshot_preview1" "fd_write" (func (param i32 i32 i32 i32) (result i32)))'
        '(import "env" "printf" (func (param i32 i32) (result i32)))'
        '(import "env" "teaclave_read_file" (func (param i32 i32) (result i32)))' + GOOD
    )
    text = "\n".join(found)
    assert "env.memset" in text and "teabox build" in text and "--allow-undefined" in text
    assert "env.memcpy" in text
    assert "wasi_snapshot_preview1.fd_write" in text and "WASI" in text
    assert "env.printf" in text
    assert "env.teaclave_read_file has type (i32, i32) -> (i32), but the host provides (i32, i32, i32) -> (i32)" in text
    assert len(found) == 5


def test_imported_memory_is_refused() -> None:
    found = problems(
        '(import "env" "memory" (memory 1)) (export "memory" (memory 0))'
        '(func (export "entrypoint") (param i32 i32) (result i32) (i32.const 0))'
    )
    assert any("env.memory" in p and "its own linear memory" in p for p in found)


def test_payload_larger_than_the_maximum() -> None:
    found = problems(GOOD, max_size=10)
    assert "larger than the maximum of 10 bytes" in found[0]


def test_check_raises_naming_every_problem() -> None:
    with pytest.raises(InvalidPayload) as info:
        check(wasmtime.wat2wasm("(module)"))
    assert len(info.value.problems) == 2


def test_the_executor_refuses_before_running(tmp_path) -> None:
    result = Executor(cache_dir=tmp_path).run(wasmtime.wat2wasm('(module (import "env" "memset" (func)))'))
    assert result.failure is not None and result.failure.kind == FailureKind.INVALID_PAYLOAD
    assert "env.memset" in result.failure.message
