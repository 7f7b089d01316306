"""Typed views of what the server answers.

Each class is built from the JSON object of one endpoint (see
``docs/http-api.md``). Fields the server adds later are ignored rather than
breaking old clients; hex fields become ``bytes`` here, once, so callers never
juggle encodings.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, Self, TypeVar

from teabox.client.requests import FunctionArgument, FunctionInput, FunctionOutput
from teabox.client.wire import from_hex

T = TypeVar("T")

# Teaclave's status numbers, and the states after which a task never changes again.
STATUS_CODES: dict[str, int] = {
    "Created": 0,
    "DataAssigned": 1,
    "Approved": 2,
    "Staged": 3,
    "Running": 4,
    "Finished": 10,
    "Canceled": 20,
    "Failed": 99,
}
FINAL_STATUSES = frozenset({"Finished", "Canceled", "Failed"})


def _build(cls: type[T], data: dict[str, Any], **converted: Any) -> T:
    """Construct ``cls`` from the JSON fields it declares, with some fields pre-converted."""
    names = {f.name for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
    values = {k: v for k, v in data.items() if k in names}
    values.update(converted)
    return cls(**values)


class _Record:
    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Self:
        return _build(cls, data)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-friendly dict (bytes as hex), e.g. for printing from the CLI."""
        return _jsonable(dataclasses.asdict(self))  # type: ignore[call-overload]


def _jsonable(value: Any) -> Any:
    if isinstance(value, bytes):
        return value.hex()
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    return value


@dataclass(frozen=True)
class Login(_Record):
    token: str
    expires_at: str


@dataclass(frozen=True)
class User(_Record):
    user_id: str
    role: str
    attribute: str = ""
    must_change_password: bool = False  # registered by a manager: change the password before anything else


@dataclass(frozen=True)
class FunctionList(_Record):
    registered_functions: list[str] = field(default_factory=list)
    allowed_functions: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class FunctionUsage(_Record):
    """``function_quota`` None means unlimited (Teaclave used -1)."""

    function_quota: int | None
    current_usage: int


@dataclass(frozen=True)
class Function(_Record):
    """A registered function. ``payload_id`` and ``user_allowlist`` are None when the caller
    sees the function only through the allowlist."""

    function_id: str
    name: str
    description: str
    owner: str
    executor_type: str
    public: bool
    disabled: bool = False
    payload_id: str | None = None
    payload_size: int | None = None
    arguments: list[FunctionArgument] = field(default_factory=list)
    inputs: list[FunctionInput] = field(default_factory=list)
    outputs: list[FunctionOutput] = field(default_factory=list)
    user_allowlist: list[str] | None = None
    usage_quota: int | None = None
    limits: dict[str, Any] = field(default_factory=dict)
    created_at: str | None = None
    updated_at: str | None = None

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Function:
        return _build(
            cls,
            data,
            arguments=[FunctionArgument(**a) for a in data.get("arguments", [])],
            inputs=[FunctionInput(**i) for i in data.get("inputs", [])],
            outputs=[FunctionOutput(**o) for o in data.get("outputs", [])],
        )


@dataclass(frozen=True)
class RegisteredFile(_Record):
    """An input or output file record. Keys are never returned by the server."""

    data_id: str
    url: str
    schema: str
    cmac: bytes | None
    owner: list[str] = field(default_factory=list)
    pending_owners: list[str] = field(default_factory=list)  # co-owners who have not accepted a fusion output

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> RegisteredFile:
        return _build(cls, data, cmac=from_hex(data.get("cmac")))


@dataclass(frozen=True)
class HostedFile(_Record):
    """A file stored on the platform: register ``url`` as an input or output."""

    url: str
    file_id: str
    size: int | None = None
    sha256: str | None = None


@dataclass(frozen=True)
class TaskResult(_Record):
    """How a task ended, or that it has not yet (``done`` False)."""

    task_id: str
    done: bool
    status: str
    status_code: int
    return_value: str | None = None
    tags_map: dict[str, bytes] = field(default_factory=dict)
    failure_kind: str | None = None
    reason: str | None = None
    metrics: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> TaskResult:
        tags = {k: bytes.fromhex(v) for k, v in (data.get("tags_map") or {}).items()}
        return _build(cls, data, tags_map=tags, metrics=data.get("metrics") or {})


@dataclass(frozen=True)
class Task(_Record):
    """A task's full state, as its participants see it."""

    task_id: str
    creator: str
    function_id: str
    function_owner: str
    status: str
    status_code: int
    function_arguments: dict[str, Any] = field(default_factory=dict)
    executor: str = "wasm"
    inputs_ownership: list[dict[str, Any]] = field(default_factory=list)
    outputs_ownership: list[dict[str, Any]] = field(default_factory=list)
    participants: list[str] = field(default_factory=list)
    approved_users: list[str] = field(default_factory=list)
    assigned_inputs: list[dict[str, str]] = field(default_factory=list)
    assigned_outputs: list[dict[str, str]] = field(default_factory=list)
    attempt: int = 0
    result: TaskResult | None = None
    created_at: str | None = None
    updated_at: str | None = None

    @property
    def done(self) -> bool:
        return self.status in FINAL_STATUSES

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Task:
        raw = data.get("result")
        result = None
        if raw is not None:
            result = TaskResult.from_json(
                {
                    "task_id": data["task_id"],
                    "done": data["status"] in FINAL_STATUSES,
                    "status": data["status"],
                    "status_code": data["status_code"],
                    **raw,
                }
            )
        return _build(cls, data, result=result)


@dataclass(frozen=True)
class AuditEntry(_Record):
    id: int | str
    timestamp: str
    user_id: str | None
    action: str
    object_id: str | None
    outcome: str
    message: str = ""
