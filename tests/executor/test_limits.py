"""Each limit ends the run with its own kind, quickly, without harming the host."""

from __future__ import annotations

from teabox.executor import Executor, FailureKind, Limits, MemoryOutputs

from .conftest import entry, module

ENDLESS = entry("(loop (br 0)) (i32.const 0)")
RECURSE = module(
    "(func $f (param i32) (result i32) (i32.add (call $f (i32.add (local.get 0) (i32.const 1))) (i32.const 1)))"
    '(func (export "entrypoint") (param i32 i32) (result i32) (call $f (i32.const 0)))'
)
BOMB = entry("(block (loop (br_if 1 (i32.eq (memory.grow (i32.const 16)) (i32.const -1))) (br 0))) unreachable")


def test_endless_loop_ends_as_timeout(executor: Executor) -> None:
    # How soon after its limit a run ends is the benchmarks' business: on a loaded machine any bound flakes.
    result = executor.run(ENDLESS, limits=Limits(timeout=0.3))
    assert result.failure is not None and result.failure.kind == FailureKind.TIMEOUT
    assert "0.3 s" in result.failure.message
    assert result.wall_time >= 0.3  # it ran until its limit, not less


def test_fuel_is_an_exact_instruction_budget(executor: Executor) -> None:
    result = executor.run(ENDLESS, limits=Limits(fuel=50_000))
    assert result.failure is not None and result.failure.kind == FailureKind.OUT_OF_FUEL
    assert result.fuel_used == 50_000
    counted = executor.run(entry("(i32.const 7)"), limits=Limits(fuel=1_000))
    assert counted.ok and 0 < counted.fuel_used < 1_000


def test_memory_bomb_ends_as_memory_limit(executor: Executor) -> None:
    result = executor.run(BOMB, limits=Limits(memory=8 * 2**20))
    assert result.failure is not None and result.failure.kind == FailureKind.MEMORY_LIMIT
    assert result.peak_memory <= 8 * 2**20


def test_initial_memory_beyond_the_limit_is_refused() -> None:
    from teabox.executor import Executor as Fresh

    payload = module(
        '(memory (export "memory") 200)(func (export "entrypoint") (param i32 i32) (result i32) (i32.const 0))',
        memory=False,
    )
    result = Fresh().run(payload, limits=Limits(memory=2**20))
    assert result.failure is not None and result.failure.kind == FailureKind.MEMORY_LIMIT


def test_deep_recursion_is_a_trap_naming_stack_overflow(executor: Executor) -> None:
    result = executor.run(RECURSE)
    assert result.failure is not None and result.failure.kind == FailureKind.TRAP
    assert "stack overflow" in result.failure.message
    assert any("repeated" in line for line in result.failure.backtrace)


def test_output_limit(executor: Executor) -> None:
    payload = entry(
        "(local.set $o (call $create (i32.const 16)))"
        "(block (loop (br_if 1 (i32.lt_s (call $write (local.get $o) (i32.const 0) (i32.const 1000)) (i32.const 0))) (br 0)))"
        "(i32.const 0)",
        data='(data (i32.const 16) "out\\00")',
        locals_="(local $o i32)",
    )
    outputs = MemoryOutputs(["out"])
    result = executor.run(payload, outputs=outputs, limits=Limits(max_output_bytes=10_500))
    assert result.failure is not None and result.failure.kind == FailureKind.OUTPUT_LIMIT
    assert result.files["out"].written == 10_000
    assert outputs.results == {}


def test_traps_are_failures_with_message_and_backtrace(executor: Executor) -> None:
    result = executor.run(entry("(i32.div_u (i32.const 1) (i32.sub (local.get $argc) (local.get $argc)))"))
    assert result.failure is not None and result.failure.kind == FailureKind.TRAP
    assert "divide by zero" in result.failure.message
    assert result.failure.backtrace
    assert result.return_value is None
    unreachable = executor.run(entry("unreachable"))
    assert "unreachable" in unreachable.failure.message


def test_the_host_survives_and_runs_on_after_every_failure(executor: Executor) -> None:
    for payload, limits in ((ENDLESS, Limits(timeout=0.1)), (RECURSE, Limits()), (BOMB, Limits(memory=4 * 2**20))):
        assert not executor.run(payload, limits=limits).ok
    assert executor.run(entry("(i32.const 42)")).return_value == "42"


def test_limits_reject_impossible_values() -> None:
    import pytest

    for bad in ({"timeout": 0}, {"fuel": 0}, {"memory": 10}, {"stack": 1}, {"max_handles": 5000}):
        with pytest.raises(ValueError):
            Limits(**bad)


def test_a_trap_with_memory_near_the_limit_but_no_refused_grow_is_a_trap(executor: Executor) -> None:
    # Grow to 37.5 of 64 MiB (600 pages), then divide by zero: nothing was refused.
    payload = entry(
        "(drop (memory.grow (i32.sub (i32.const 600) (memory.size))))"
        "(i32.div_s (i32.const 1) (i32.sub (memory.size) (i32.const 600)))"
    )
    result = executor.run(payload, limits=Limits(memory=64 * 2**20))
    assert result.failure is not None
    assert result.failure.kind is FailureKind.TRAP
    assert "divide by zero" in result.failure.message
    assert result.peak_memory == 600 * 65536


def test_a_refused_grow_followed_by_a_trap_is_a_memory_limit_naming_the_request(executor: Executor) -> None:
    # Ask for 100 pages past a 1 MiB limit, ignore the -1, then trap.
    payload = entry("(drop (memory.grow (i32.const 100))) unreachable")
    result = executor.run(payload, limits=Limits(memory=2**20))
    assert result.failure is not None
    assert result.failure.kind is FailureKind.MEMORY_LIMIT
    # One page declared, one grown for argv, 100 asked for.
    assert f"memory.grow to {102 * 65536} bytes was refused" in result.failure.message
