"""``Executor`` hands every run to a runner and asks nothing else of it but ``close``."""

from __future__ import annotations

from pathlib import Path

import pytest
import wasmtime

from teabox.executor import Executor
from teabox.executor.cache import ModuleCache

_SEVEN = wasmtime.wat2wasm(
    '(module (memory (export "memory") 1) (func (export "entrypoint") (param i32 i32) (result i32) (i32.const 7)))'
)


def test_an_in_process_executor_keeps_its_cache_and_runs_on_after_close(tmp_path: Path) -> None:
    executor = Executor(tmp_path, isolation="in-process")
    assert executor.run(_SEVEN).return_value == "7"
    executor.close()
    assert executor.run(_SEVEN).module_source == "memory"
    assert isinstance(executor.cache, ModuleCache) and executor.cache.compilations == 1


def test_closing_a_subprocess_executor_stops_its_idle_sandbox_processes(tmp_path: Path) -> None:
    executor = Executor(tmp_path, isolation="subprocess")
    try:
        assert executor.run(_SEVEN).return_value == "7"
        (child,) = executor._runner._idle  # type: ignore[attr-defined]
        assert child.process.poll() is None
        with pytest.raises(AttributeError, match="sandbox processes"):
            _ = executor.cache
    finally:
        executor.close()
    assert child.process.poll() is not None


def test_an_unknown_isolation_is_refused_by_name() -> None:
    with pytest.raises(ValueError, match="'elsewhere'"):
        Executor(isolation="elsewhere")  # type: ignore[arg-type]
