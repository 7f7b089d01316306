"""Compute payloads return the same checksums as the computation in Python."""

from __future__ import annotations

from teabox.executor import Executor

from .conftest import module

FIB = module(
    "(func $fib (param i32) (result i32) (if (result i32) (i32.lt_u (local.get 0) (i32.const 2)) (then (local.get 0))"
    " (else (i32.add (call $fib (i32.sub (local.get 0) (i32.const 1))) (call $fib (i32.sub (local.get 0) (i32.const 2)))))))"
    '(func (export "entrypoint") (param i32 i32) (result i32) (call $fib (i32.const 25)))',
    imports=False,
)

# x = x * 1103515245 + 12345 (mod 2^32), n times, summing the top 16 bits.
LCG = module(
    '(func (export "entrypoint") (param i32 i32) (result i32) (local $x i32) (local $i i32) (local $s i32)'
    " (local.set $x (i32.const 1))"
    " (block (loop (br_if 1 (i32.ge_u (local.get $i) (i32.const 1000000)))"
    "  (local.set $x (i32.add (i32.mul (local.get $x) (i32.const 1103515245)) (i32.const 12345)))"
    "  (local.set $s (i32.add (local.get $s) (i32.shr_u (local.get $x) (i32.const 16))))"
    "  (local.set $i (i32.add (local.get $i) (i32.const 1))) (br 0)))"
    " (local.get $s))",
    imports=False,
)


def _signed(value: int) -> int:
    value &= 0xFFFFFFFF
    return value - 2**32 if value >= 2**31 else value


def test_fibonacci(executor: Executor) -> None:
    def fib(n: int) -> int:
        a, b = 0, 1
        for _ in range(n):
            a, b = b, a + b
        return a

    assert executor.run(FIB).return_value == str(fib(25))


def test_linear_congruential_checksum(executor: Executor) -> None:
    x = 1
    s = 0
    for _ in range(1_000_000):
        x = (x * 1103515245 + 12345) & 0xFFFFFFFF
        s = (s + (x >> 16)) & 0xFFFFFFFF
    assert executor.run(LCG).return_value == str(_signed(s))
