"""The run after a killed sandbox process takes a spare process started before the kill."""

from __future__ import annotations

from pathlib import Path

import pytest

from teabox.executor import FailureKind, Limits
from teabox.executor.sandbox import SandboxRunner

from .conftest import entry

SEVEN = entry("(i32.const 7)")
ENDLESS = entry("(loop (br 0)) (i32.const 0)")


def _time_out(runner: SandboxRunner) -> None:
    result = runner.run(ENDLESS, limits=Limits(timeout=0.2))
    assert result.failure is not None and result.failure.kind == FailureKind.TIMEOUT


def test_the_run_after_a_timeout_is_served_by_the_spare_started_before_it(tmp_path: Path) -> None:
    runner = SandboxRunner(tmp_path)
    try:
        assert runner.run(SEVEN).return_value == "7"
        runner.wait_for_spare()
        (spare,) = runner._spares
        (used,) = runner._idle
        _time_out(runner)
        assert used.process.poll() is not None, "the timed-out run's process was killed"
        assert runner.run(SEVEN).return_value == "7"
        assert runner._idle == [spare], "the spare, started before the timeout, served the next run"
        assert runner.cold_starts == 1, "only the first run waited for a process to start"
        runner.wait_for_spare()
        (replacement,) = runner._spares  # and a new spare stands behind it
        assert replacement is not spare and replacement.process.poll() is None
    finally:
        runner.close()
    assert spare.process.poll() is not None and replacement.process.poll() is not None


def test_without_a_spare_the_run_after_a_timeout_starts_a_process(tmp_path: Path) -> None:
    runner = SandboxRunner(tmp_path, spare=False)
    try:
        assert runner.run(SEVEN).return_value == "7"
        _time_out(runner)
        assert runner.run(SEVEN).return_value == "7"
        assert runner.cold_starts == 2
        assert runner._spares == []
    finally:
        runner.close()


@pytest.mark.parametrize("spare", [True, False])
def test_a_process_that_ran_is_preferred_to_the_spare(tmp_path: Path, spare: bool) -> None:
    """The process that ran last holds the payload and its compiled module: runs go on there."""
    runner = SandboxRunner(tmp_path, spare=spare)
    try:
        sources = [runner.run(SEVEN).module_source for _ in range(3)]
        runner.wait_for_spare()
        sources.append(runner.run(SEVEN).module_source)
        assert sources == ["compiled", "memory", "memory", "memory"]
        assert runner.cold_starts == 1
    finally:
        runner.close()
