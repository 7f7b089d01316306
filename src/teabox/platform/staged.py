"""What crosses the line between the platform and a worker.

The platform hands a worker a :class:`StagedTask` when the worker claims it,
and takes back an :class:`Outcome`. Both are plain data so that the same
worker loop runs beside SQLite or against PostgreSQL on another machine.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from teabox.failure_kinds import TaskFailureKind


@dataclass(frozen=True)
class CryptoSpec:
    """An owner's registered encryption for one file (schema, key, IV)."""

    schema: str  # "aes-gcm-128" | "aes-gcm-256" | "teaclave-file-128" | "raw"
    key: bytes
    iv: bytes


@dataclass(frozen=True)
class StagedInput:
    data_name: str
    file_id: str
    url: str
    crypto: CryptoSpec
    cmac: bytes | None  # None only for schema "raw"


@dataclass(frozen=True)
class StagedOutput:
    data_name: str
    file_id: str
    url: str
    crypto: CryptoSpec


@dataclass(frozen=True)
class TaskLimits:
    """The function's limits for one run; the executor enforces each of them."""

    timeout_seconds: float = 10.0
    fuel: int | None = None
    memory_bytes: int = 256 * 1024 * 1024
    max_output_bytes: int = 256 * 1024 * 1024


@dataclass(frozen=True)
class StagedTask:
    task_id: str
    attempt: int
    function_id: str
    payload_sha256: str  # the payload's bytes are in the blob store under this hash
    arguments: dict[str, Any]  # merged: overwritable values plus fixed defaults
    inputs: list[StagedInput] = field(default_factory=list)
    outputs: list[StagedOutput] = field(default_factory=list)
    limits: TaskLimits = field(default_factory=TaskLimits)


@dataclass(frozen=True)
class Outcome:
    """How a run ended. ``failure_kind`` is None exactly when the task finished."""

    return_value: str | None = None
    tags: dict[str, bytes] = field(default_factory=dict)  # output data name -> 16-byte tag
    failure_kind: TaskFailureKind | None = None
    reason: str | None = None
    metrics: dict[str, Any] = field(default_factory=dict)  # wall time, fuel, peak memory, bytes per file, diagnostics

    @property
    def ok(self) -> bool:
        return self.failure_kind is None
