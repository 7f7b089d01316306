"""Sandbox processes announce a run's start only until their parent knows the module is compiled there."""

from __future__ import annotations

from pathlib import Path

import pytest

from teabox.executor import Executor, FailureKind, Limits, MemoryInputs
from teabox.executor.confinement import MAX_DATA_FILES

from .conftest import entry

# Returns at once without arguments; with any argument, loops until it is stopped.
SPIN_IF_ASKED = entry("(block (br_if 0 (i32.eqz (local.get $argc))) (loop (br 0))) (i32.const 5)")


def test_a_run_of_a_module_the_sandbox_holds_still_ends_at_its_deadline(tmp_path: Path) -> None:
    executor = Executor(tmp_path, isolation="subprocess")
    try:
        first = executor.run(SPIN_IF_ASKED, limits=Limits(timeout=30.0))  # compiles, announced by "started"
        assert first.ok and first.return_value == "5"
        # Now compiled in the sandbox: no "started" comes, and the deadline runs from the request.
        endless = executor.run(SPIN_IF_ASKED, {"spin": "1"}, limits=Limits(timeout=0.2))
        assert endless.failure is not None and endless.failure.kind == FailureKind.TIMEOUT
        again = executor.run(SPIN_IF_ASKED, limits=Limits(timeout=30.0))  # a new sandbox, announced again
        assert again.ok and again.return_value == "5"
    finally:
        executor.close()


def test_another_engine_setting_is_another_module(tmp_path: Path) -> None:
    executor = Executor(tmp_path, isolation="subprocess")
    try:
        assert executor.run(SPIN_IF_ASKED, limits=Limits(timeout=30.0)).ok
        # Fuel metering compiles the module anew; that run is announced, and fuel ends it.
        metered = executor.run(SPIN_IF_ASKED, {"spin": "1"}, limits=Limits(timeout=30.0, fuel=100_000))
        assert metered.failure is not None and metered.failure.kind == FailureKind.OUT_OF_FUEL
        held = executor.run(SPIN_IF_ASKED, {"spin": "1"}, limits=Limits(timeout=0.2, fuel=10**15))
        assert held.failure is not None and held.failure.kind == FailureKind.TIMEOUT
    finally:
        executor.close()


def test_a_sandboxed_run_takes_up_to_its_data_file_allowance(tmp_path: Path) -> None:
    # Opens input "i199" (the last of 200 passed descriptors) and returns what reading it gave.
    reads_last = entry(
        "(local.set $fd (call $open (i32.const 0)))(call $read (local.get $fd) (i32.const 64) (i32.const 16))",
        data='(data (i32.const 0) "i199\\00")',
        locals_="(local $fd i32)",
    )
    executor = Executor(tmp_path, isolation="subprocess")
    try:
        inputs = MemoryInputs({f"i{n}": b"x" * n for n in range(MAX_DATA_FILES)})
        assert executor.run(reads_last, inputs=inputs).return_value == "16"
        with pytest.raises(ValueError, match=f"at most {MAX_DATA_FILES} inputs and outputs"):
            executor.run(reads_last, inputs=MemoryInputs({f"i{n}": b"" for n in range(MAX_DATA_FILES + 1)}))
    finally:
        executor.close()
