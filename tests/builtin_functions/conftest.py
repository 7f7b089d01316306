"""Run a bundled built-in in the executor, as the platform's worker would."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import pytest

from teabox.builtins import find
from teabox.executor import Executor, FailureKind, MemoryInputs, MemoryOutputs, RunResult


@dataclass
class BuiltinRun:
    result: RunResult
    outputs: dict[str, bytes]

    @property
    def text(self) -> str:
        assert self.result.ok, self.result.failure
        assert self.result.return_value is not None
        return self.result.return_value

    @property
    def error(self) -> str:
        failure = self.result.failure
        assert failure is not None, f"the run succeeded with {self.result.return_value!r}"
        assert failure.kind is FailureKind.FUNCTION_ERROR, failure
        assert self.outputs == {}
        return failure.message


RunBuiltin = Callable[..., BuiltinRun]


@pytest.fixture(scope="session")
def builtin_executor() -> Iterator[Executor]:
    executor = Executor(isolation="in-process")
    yield executor
    executor.close()


@pytest.fixture
def run_builtin(builtin_executor: Executor) -> RunBuiltin:
    def run(
        name: str,
        args: Mapping[str, Any] | None = None,
        inputs: Mapping[str, bytes] | None = None,
        outputs: tuple[str, ...] = (),
    ) -> BuiltinRun:
        builtin = find(name)
        assert builtin is not None, name
        sink = MemoryOutputs(outputs)
        result = builtin_executor.run(builtin.payload(), args or {}, inputs=MemoryInputs(inputs or {}), outputs=sink)
        return BuiltinRun(result, sink.results)

    return run
