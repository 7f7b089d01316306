"""The executor: runs one payload in a fresh sandbox under limits.

It knows nothing of users, tasks or encryption: inputs and outputs are byte
streams by data name, supplied by the caller.
"""

from teabox.executor.data import (
    FileInputs,
    FileOutputs,
    Inputs,
    MemoryInputs,
    MemoryOutputs,
    Outputs,
)
from teabox.executor.executor import Executor, Isolation
from teabox.executor.limits import Limits, parse_duration, parse_size
from teabox.executor.result import Failure, FileStats, RunResult
from teabox.failure_kinds import FailureKind

__all__ = [
    "Executor",
    "Failure",
    "FailureKind",
    "FileInputs",
    "FileOutputs",
    "FileStats",
    "Inputs",
    "Isolation",
    "Limits",
    "MemoryInputs",
    "MemoryOutputs",
    "Outputs",
    "RunResult",
    "parse_duration",
    "parse_size",
]
