"""Compiling counts against a run's time limit: a huge module cannot hold a worker past it."""

from __future__ import annotations

from pathlib import Path

import pytest
import wasmtime

from teabox.executor import Executor, FailureKind, Limits


def _slow_to_compile(functions: int = 3000) -> bytes:
    """Thousands of functions with long arithmetic bodies: hundreds of milliseconds of compiling at least."""
    body = "(local.get 0)" + "(i32.const 7) (i32.mul) (i32.const 3) (i32.xor)" * 60
    funcs = "".join(f'(func (export "f{i}") (param i32) (result i32) {body})' for i in range(functions))
    return wasmtime.wat2wasm(
        f'(module (memory (export "memory") 1) {funcs}'
        '(func (export "entrypoint") (param i32 i32) (result i32) (i32.const 1)))'
    )


@pytest.mark.parametrize("isolation", ["in-process", "subprocess"])
def test_a_module_slower_to_compile_than_the_limit_fails_as_timeout(isolation: str, tmp_path: Path) -> None:
    executor = Executor(tmp_path, isolation=isolation)  # type: ignore[arg-type]
    try:
        result = executor.run(_slow_to_compile(), limits=Limits(timeout=0.001))
        assert result.failure is not None and result.failure.kind == FailureKind.TIMEOUT
        assert "compiling the payload" in result.failure.message
        # The executor carries on.
        small = wasmtime.wat2wasm(
            '(module (memory (export "memory") 1) (func (export "entrypoint") (param i32 i32) (result i32) (i32.const 3)))'
        )
        assert executor.run(small).return_value == "3"
    finally:
        executor.close()
