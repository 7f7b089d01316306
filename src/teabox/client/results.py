"""Typed views of what the server answers.

Each class is built from the JSON object of one endpoint (see
``docs/http-api.md``). Fields the server adds later are ignored rather than
breaking old clients; hex fields become ``bytes`` here, once, so callers never
juggle encodings. The records Teaclave's SDK returned as dicts (a task, a
function, the function lists, usage statistics) can also be indexed as those
dicts (:mod:`teabox.client.teaclave_shapes`).
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Self, TypeVar, cast

from teabox.client.requests import FunctionArgument, FunctionInput, FunctionOutput
from teabox.client.teaclave_shapes import Lazy, TeaclaveMapping, b64
from teabox.client.wire import from_hex

T = TypeVar("T")

# The states after which a task never changes again.
FINAL_STATUSES = frozenset({"Finished", "Canceled", "Failed"})
# What Teaclave called teabox's executor types (teabox's one WebAssembly executor was its WAMR).
TEACLAVE_EXECUTOR_TYPES = {"wasm": "wamr"}


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
        return cast(dict[str, Any], _jsonable(dataclasses.asdict(self)))  # type: ignore[call-overload]


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
class FunctionList(_Record, TeaclaveMapping):
    registered_functions: list[str] = field(default_factory=list)
    allowed_functions: list[str] = field(default_factory=list)

    def _teaclave_shape(self) -> dict[str, Any]:
        return {
            "registered_functions": list(self.registered_functions),
            "allowed_functions": list(self.allowed_functions),
        }


@dataclass(frozen=True)
class FunctionUsage(_Record, TeaclaveMapping):
    """``function_quota`` None means unlimited (Teaclave used -1, which the dict view keeps)."""

    function_quota: int | None
    current_usage: int

    def _teaclave_shape(self) -> dict[str, Any]:
        quota = -1 if self.function_quota is None else self.function_quota
        return {"function_quota": quota, "current_usage": self.current_usage}


@dataclass(frozen=True)
class Function(_Record, TeaclaveMapping):
    """A registered function. ``payload_id`` and ``user_allowlist`` are None when the caller
    sees the function only through the allowlist.

    ``function["payload"]`` is the module's bytes, as in Teaclave, downloaded
    the first time it is read (from a record that :meth:`Client.get_function`
    returned); the key is absent when the caller may not read the payload.
    """

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

    def with_payload_source(self, load: Callable[[], bytes]) -> Self:
        """Let ``self["payload"]`` fetch the payload with ``load`` when first read."""
        if self.payload_id is not None:
            object.__setattr__(self, "_payload", Lazy(load))
        return self

    def _teaclave_shape(self) -> dict[str, Any]:
        shape: dict[str, Any] = {
            "function_id": self.function_id,
            "name": self.name,
            "description": self.description,
            "owner": self.owner,
            "executor_type": TEACLAVE_EXECUTOR_TYPES.get(self.executor_type, self.executor_type),
            "public": self.public,
            "arguments": [dataclasses.asdict(a) for a in self.arguments],
            "inputs": [dataclasses.asdict(i) for i in self.inputs],
            "outputs": [dataclasses.asdict(o) for o in self.outputs],
            "usage_quota": -1 if self.usage_quota is None else self.usage_quota,
        }
        payload = self.__dict__.get("_payload")
        if payload is not None:
            shape["payload"] = payload
        if self.user_allowlist is not None:
            shape["user_allowlist"] = list(self.user_allowlist)
        return shape


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
class Task(_Record, TeaclaveMapping):
    """A task's full state, as its participants see it.

    As a mapping it is Teaclave's ``get_task`` dict: ``task["status"]`` is the
    status number (10 for Finished), ``function_arguments`` the JSON text with
    sorted keys, and ``result`` ``{"Ok": {"return_value", "tags_map", "log"}}``
    with base64 bytes, or ``{"Err": {"reason"}}``, or ``{}`` while it runs.
    """

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

    def _teaclave_shape(self) -> dict[str, Any]:
        return {
            "task_id": self.task_id,
            "creator": self.creator,
            "function_id": self.function_id,
            "function_owner": self.function_owner,
            "function_arguments": json.dumps(self.function_arguments, sort_keys=True, separators=(",", ":")),
            "inputs_ownership": [dict(o) for o in self.inputs_ownership],
            "outputs_ownership": [dict(o) for o in self.outputs_ownership],
            "participants": list(self.participants),
            "approved_users": list(self.approved_users),
            "assigned_inputs": [dict(a) for a in self.assigned_inputs],
            "assigned_outputs": [dict(a) for a in self.assigned_outputs],
            "status": self.status_code,
            "result": _teaclave_result(self.result),
        }


def _teaclave_result(result: TaskResult | None) -> dict[str, Any]:
    if result is None or not result.done:
        return {}
    if result.status == "Finished":
        return {
            "Ok": {
                "return_value": b64((result.return_value or "").encode()),
                "tags_map": {name: b64(tag) for name, tag in result.tags_map.items()},
                "log": [],
            }
        }
    return {"Err": {"reason": result.reason or result.status}}


@dataclass(frozen=True)
class AuditEntry(_Record):
    id: int | str
    timestamp: str
    user_id: str | None
    action: str
    object_id: str | None
    outcome: str
    message: str = ""
