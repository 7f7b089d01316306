"""One staged task in, one :class:`Outcome` out.

The order is the point: every input is fetched and its tag checked against
the registered cmac before the payload is even looked at, so a tampered or
unreachable input fails the task as ``input_error`` without running a single
instruction of the payload. Outputs leave the worker only after a successful
run, once the platform has given their (key, IV) pairs to this task for good,
and then all together (see :mod:`teabox.worker.publish`). Every stage
happens inside the task's staging area, which is gone when this returns.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from teabox.errors import InvalidArguments
from teabox.executor import Executor, FileInputs, FileOutputs, Limits, RunResult
from teabox.failure_kinds import TaskFailureKind
from teabox.formats import FileCheckError, decrypt
from teabox.formats.bound_names import bound_name
from teabox.platform.staged import Outcome, StagedInput, StagedTask, TaskLimits
from teabox.worker.fetch import TransferError, Transfers
from teabox.worker.payloads import PayloadCache, PayloadUnavailable
from teabox.worker.publish import Publication, PublishError, publish, seal_outputs
from teabox.worker.staging import TaskArea, WorkerStaging


class InputError(Exception):
    """An input could not be staged; the message names it and the check that failed."""


# Claims a task's outputs for its writes before anything is encrypted (TaskQueue.begin_writes for the
# run); returns None to go ahead, or why the run must publish nothing.
BeginWrites = Callable[[StagedTask], str | None]


@dataclass
class WorkerContext:
    """What a worker process keeps between tasks."""

    staging: WorkerStaging
    transfers: Transfers
    payloads: PayloadCache
    begin_writes: BeginWrites
    executor: Executor = field(default_factory=Executor)


@dataclass
class TaskRun:
    """An outcome plus the publication behind it, which the caller withdraws if the platform refuses it."""

    outcome: Outcome
    publication: Publication = field(default_factory=Publication)


def executor_limits(limits: TaskLimits) -> Limits:
    return Limits(
        timeout=limits.timeout_seconds,
        fuel=limits.fuel,
        memory=limits.memory_bytes,
        max_output_bytes=limits.max_output_bytes,
    )


class _Stopwatch:
    """Seconds spent in each stage, for the outcome's metrics."""

    def __init__(self) -> None:
        self.stages: dict[str, float] = {}

    def timed(self, stage: str, work: Callable[[], Any]) -> Any:
        started = time.perf_counter()
        try:
            return work()
        finally:
            self.stages[stage] = round(self.stages.get(stage, 0.0) + time.perf_counter() - started, 6)


def run_task(task: StagedTask, context: WorkerContext) -> TaskRun:
    """Stage, run and publish ``task``; never raises for anything the task's data or payload did."""
    clock = _Stopwatch()
    with context.staging.task_area(task.task_id, task.attempt) as area:
        try:
            inputs = clock.timed("stage_inputs", lambda: _stage_inputs(task, area, context.transfers))
        except InputError as exc:
            return TaskRun(
                Outcome(failure_kind=TaskFailureKind.INPUT_ERROR, reason=str(exc), metrics={"stages": clock.stages})
            )
        try:
            payload = clock.timed("load_payload", lambda: context.payloads.get(task))
        except PayloadUnavailable as exc:
            return TaskRun(
                Outcome(failure_kind=TaskFailureKind.HOST_ERROR, reason=str(exc), metrics={"stages": clock.stages})
            )

        outputs = FileOutputs({o.data_name: area.plain_output(j) for j, o in enumerate(task.outputs)})
        try:
            limits = executor_limits(task.limits)
            result: RunResult = clock.timed(
                "run",
                lambda: context.executor.run(payload, task.arguments, inputs=inputs, outputs=outputs, limits=limits),
            )
        except (InvalidArguments, ValueError) as exc:
            # The platform validates both before staging; this guards against records it did not write.
            reason = f"the task's arguments or limits cannot be used: {exc}"
            return TaskRun(
                Outcome(failure_kind=TaskFailureKind.HOST_ERROR, reason=reason, metrics={"stages": clock.stages})
            )
        metrics = _metrics(result, clock)
        if result.failure is not None:
            return TaskRun(
                Outcome(
                    failure_kind=TaskFailureKind(result.failure.kind), reason=result.failure.message, metrics=metrics
                )
            )

        refused = context.begin_writes(task) if task.outputs else None
        if refused is not None:
            return TaskRun(Outcome(failure_kind=TaskFailureKind.OUTPUT_ERROR, reason=refused, metrics=metrics))
        try:
            sealed = clock.timed("seal_outputs", lambda: seal_outputs(task.outputs, area))
            publication = clock.timed("publish_outputs", lambda: publish(sealed, context.transfers))
        except (PublishError, TransferError) as exc:
            return TaskRun(
                Outcome(failure_kind=TaskFailureKind.OUTPUT_ERROR, reason=str(exc), metrics=_metrics(result, clock))
            )
        outcome = Outcome(
            return_value=result.return_value,
            tags={output.data_name: output.tag for output in sealed},
            metrics=_metrics(result, clock),
        )
        return TaskRun(outcome, publication)


def _stage_inputs(task: StagedTask, area: TaskArea, transfers: Transfers) -> FileInputs:
    paths = {}
    for index, staged in enumerate(task.inputs):
        paths[staged.data_name] = _stage_input(index, staged, area, transfers)
    return FileInputs(paths)


def _stage_input(index: int, staged: StagedInput, area: TaskArea, transfers: Transfers) -> Path:
    label = f"input '{staged.data_name}' (file {staged.file_id})"
    raw = staged.crypto.schema == "raw"
    if not raw and staged.cmac is None:
        raise InputError(f"{label} has no registered cmac to check it against")
    try:
        name = bound_name(staged.url)
        if raw:  # the payload reads these bytes as they are: always a copy of its own
            fetched = area.fetched(index, name)
            transfers.download(staged.url, fetched)
            return fetched
        # an encrypted local file is decrypted where it lies; anything else is downloaded first
        encrypted = transfers.open_seekable(staged.url, lambda: area.fetched(index, name))
    except TransferError as exc:
        raise InputError(f"{label} could not be downloaded: {exc}") from exc
    except FileCheckError as exc:
        raise InputError(f"{label} could not be downloaded: {exc.detail}") from exc
    plain = area.plain_input(index)
    try:
        with encrypted:
            decrypt(staged.crypto, encrypted, plain, name=name, expected_cmac=staged.cmac)
    except FileCheckError as exc:
        raise InputError(
            f"{label} was refused before the run: {exc.kind} check '{exc.check}' failed: {exc.detail}"
        ) from exc
    except OSError as exc:
        raise InputError(f"{label} could not be decrypted: {exc.strerror or exc}") from exc
    return plain


def _metrics(result: RunResult, clock: _Stopwatch) -> dict[str, Any]:
    data = result.to_dict()
    for key in ("return_value", "failure", "status"):
        data.pop(key, None)
    data["stages"] = dict(clock.stages)
    return data
