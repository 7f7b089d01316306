"""The kinds a failure is classified as: a run's (:class:`FailureKind`) and a task's (:class:`TaskFailureKind`).

The executor only sees the run; a task can also fail before it (an input could not be fetched or
checked), after it (an output could not be published) or without it (its worker vanished on every
attempt). Each executor kind keeps its own wire value in the task's enum, so a run's failure becomes
the task's failure by value (``TaskFailureKind(failure.kind)``) and the stored and sent strings never
change. Both live outside :mod:`teabox.executor` so that naming them, as the queue does, does not load
the WebAssembly engine.
"""

from __future__ import annotations

from enum import StrEnum


class FailureKind(StrEnum):
    INVALID_PAYLOAD = "invalid_payload"
    TRAP = "trap"
    TIMEOUT = "timeout"
    OUT_OF_FUEL = "out_of_fuel"
    MEMORY_LIMIT = "memory_limit"
    OUTPUT_LIMIT = "output_limit"
    MISSING_OUTPUT = "missing_output"
    HOST_ERROR = "host_error"
    FUNCTION_ERROR = "function_error"  # the payload reported its own error on the error channel


class TaskFailureKind(StrEnum):
    # The executor's kinds, by value (a test checks that none is missing).
    INVALID_PAYLOAD = FailureKind.INVALID_PAYLOAD.value
    TRAP = FailureKind.TRAP.value
    TIMEOUT = FailureKind.TIMEOUT.value
    OUT_OF_FUEL = FailureKind.OUT_OF_FUEL.value
    MEMORY_LIMIT = FailureKind.MEMORY_LIMIT.value
    OUTPUT_LIMIT = FailureKind.OUTPUT_LIMIT.value
    MISSING_OUTPUT = FailureKind.MISSING_OUTPUT.value
    HOST_ERROR = FailureKind.HOST_ERROR.value
    FUNCTION_ERROR = FailureKind.FUNCTION_ERROR.value
    # The task's own.
    INPUT_ERROR = "input_error"  # an input could not be fetched or failed its integrity check: nothing ran
    OUTPUT_ERROR = "output_error"  # an output could not be encrypted or published, or another task wrote it first
    WORKER_LOST = "worker_lost"  # the worker holding the task stopped renewing its lease, on every attempt
