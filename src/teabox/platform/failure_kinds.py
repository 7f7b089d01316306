"""The kinds a failed task records in ``failure_kind``: the executor's, plus those of the task around the run.

The executor only sees the run; a task can also fail before it (an input could not be fetched or
checked), after it (an output could not be published) or without it (its worker vanished on every
attempt). Each executor kind keeps its own wire value here, so a run's failure becomes the task's
failure by value (``TaskFailureKind(failure.kind)``) and the stored and sent strings never change.
"""

from __future__ import annotations

from enum import StrEnum

from teabox.executor.result import FailureKind


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
