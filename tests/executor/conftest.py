"""Payloads for the executor tests, written in WebAssembly text."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
import wasmtime
from support.wat_imports import HOST_IMPORTS

from teabox.executor import Executor

IMPORTS = HOST_IMPORTS

# $strlen and a helper that writes argv[0..argc) as lines to output "out".
ARGV_DUMP = (
    IMPORTS
    + r"""
 (memory (export "memory") 1)
 (data (i32.const 8) "out\00")
 (data (i32.const 12) "\n")
 (func $strlen (param $p i32) (result i32) (local $n i32)
   (block (loop
     (br_if 1 (i32.eqz (i32.load8_u (i32.add (local.get $p) (local.get $n)))))
     (local.set $n (i32.add (local.get $n) (i32.const 1)))
     (br 0)))
   (local.get $n))
 (func (export "entrypoint") (param $argc i32) (param $argv i32) (result i32) (local $fd i32) (local $i i32) (local $s i32)
   (local.set $fd (call $create (i32.const 8)))
   (block (loop
     (br_if 1 (i32.ge_u (local.get $i) (local.get $argc)))
     (local.set $s (i32.load (i32.add (local.get $argv) (i32.mul (local.get $i) (i32.const 4)))))
     (drop (call $write (local.get $fd) (local.get $s) (call $strlen (local.get $s))))
     (drop (call $write (local.get $fd) (i32.const 12) (i32.const 1)))
     (local.set $i (i32.add (local.get $i) (i32.const 1)))
     (br 0)))
   ;; return argv[argc], which must be the NULL pointer
   (i32.load (i32.add (local.get $argv) (i32.mul (local.get $argc) (i32.const 4)))))
"""
)


def module(body: str, *, imports: bool = True, memory: bool = True) -> bytes:
    text = "(module " + (IMPORTS if imports else "") + ('(memory (export "memory") 1)' if memory else "") + body + ")"
    return wasmtime.wat2wasm(text)


def entry(body: str, *, data: str = "", locals_: str = "") -> bytes:
    """A module whose entrypoint is ``body`` (with $argc, $argv and the given locals)."""
    return module(
        data + f'(func (export "entrypoint") (param $argc i32) (param $argv i32) (result i32) {locals_} {body})'
    )


@pytest.fixture(scope="module", params=["in-process", "subprocess"])
def executor(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Executor]:
    """Every behaviour holds whichever way the deadline is enforced."""
    executor = Executor(cache_dir=tmp_path_factory.mktemp("cache"), isolation=request.param)
    yield executor
    executor.close()


@pytest.fixture
def wat() -> Callable[..., bytes]:
    return entry
