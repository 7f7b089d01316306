"""What each endpoint answers: one model per success body, and the one error body every refusal has.

These models are the answers' half of the wire contract (:mod:`teabox.service.schemas` is the
requests' half): the service declares them as each route's ``response_model`` and lists the
refusals each operation can give (:mod:`teabox.service.contract`), so ``/openapi.json``
describes what is really sent. The handlers still send the platform's answers as they are,
without a second validation on the request path; the tests hold every real answer to its model,
and forbidding unknown fields here is what makes an answer that grew a field fail them.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field

from teabox.failure_kinds import TaskFailureKind
from teabox.platform.states import STATUS_CODES, TaskStatus
from teabox.service.schemas import DataMap, FunctionArgument, FunctionData, OwnerList

StatusCode = Annotated[
    int,
    Field(
        description="Teaclave's number for the status",
        json_schema_extra={"enum": sorted(set(STATUS_CODES.values()))},
    ),
]
Hex = Annotated[str, Field(description="bytes as lowercase hex")]
Timestamp = Annotated[str, Field(description="ISO 8601, UTC")]


class Answer(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ErrorDetail(Answer):
    code: Annotated[str, Field(description="the reason, in snake_case")]
    message: Annotated[str, Field(description="a sentence naming what was wrong")]


class ErrorBody(Answer):
    """Every refusal's body, whatever its status."""

    error: ErrorDetail


class Done(Answer):
    """An empty object: the call did what it was asked."""


class Login(Answer):
    token: str
    expires_at: Timestamp


class CurrentUser(Answer):
    user_id: str
    role: str
    attribute: str
    must_change_password: bool


class LockedUser(Answer):
    user_id: str
    locked: bool


class UserIds(Answer):
    ids: list[str]


class FunctionId(Answer):
    function_id: str


class PayloadUploaded(Answer):
    payload_id: Annotated[str, Field(description="the payload's sha256, as hex")]
    size: int


class RunLimits(Answer):
    """What bounds every run of a function: each limit, the default where none was given (no fuel: null)."""

    timeout_seconds: float
    memory_bytes: int
    fuel: int | None
    max_output_bytes: int


class Function(Answer):
    function_id: str
    name: str
    description: str
    owner: str
    executor_type: str
    public: bool
    disabled: bool
    payload_size: int | None
    arguments: list[FunctionArgument]
    inputs: list[FunctionData]
    outputs: list[FunctionData]
    usage_quota: int | None
    limits: RunLimits
    created_at: Timestamp
    updated_at: Timestamp
    # Absent for a caller who sees the function only through its allowlist.
    payload_id: str | None = None
    user_allowlist: list[str] | None = None


class FunctionLists(Answer):
    registered_functions: list[str]
    allowed_functions: list[str]


class FunctionUsage(Answer):
    function_quota: Annotated[int | None, Field(description="null: unlimited")]
    current_usage: int


class DataId(Answer):
    data_id: str


class PendingOwners(Answer):
    pending_owners: list[str]


class RegisteredFile(Answer):
    data_id: str
    url: str
    schema_: str = Field(alias="schema")
    cmac: Hex | None
    owner: list[str]
    pending_owners: list[str]


class FileLists(Answer):
    inputs: list[RegisteredFile]
    outputs: list[RegisteredFile]


class HostedFile(Answer):
    url: str
    file_id: str


class UploadedFile(HostedFile):
    size: int
    sha256: Hex


class TaskId(Answer):
    task_id: str


class Outcome(Answer):
    """How an ended task ended."""

    status: TaskStatus
    status_code: StatusCode
    return_value: str | None
    tags_map: Annotated[dict[str, Hex], Field(description="output data name -> its tag")]
    failure_kind: TaskFailureKind | None
    reason: str | None
    metrics: dict[str, Any]


class Task(Answer):
    task_id: str
    creator: str
    function_id: str
    function_owner: str
    payload_sha256: str | None
    limits: RunLimits
    function_arguments: dict[str, Any]
    executor: str
    inputs_ownership: list[OwnerList]
    outputs_ownership: list[OwnerList]
    participants: list[str]
    approved_users: list[str]
    assigned_inputs: list[DataMap]
    assigned_outputs: list[DataMap]
    status: TaskStatus
    status_code: StatusCode
    attempt: int
    result: Outcome | None
    created_at: Timestamp
    updated_at: Timestamp


class TaskResult(Answer):
    """``done`` false: the task has not ended and only the status is sent; true: the outcome too."""

    task_id: str
    done: bool
    status: TaskStatus
    status_code: StatusCode
    return_value: str | None = None
    tags_map: dict[str, Hex] | None = None
    failure_kind: TaskFailureKind | None = None
    reason: str | None = None
    metrics: dict[str, Any] | None = None


class TaskIds(Answer):
    task_ids: list[str]


class Cmac(Answer):
    cmac: Hex


class AuditRecord(Answer):
    id: int
    timestamp: Timestamp
    user_id: str | None
    action: str
    object_id: str | None
    outcome: Annotated[str, Field(description="ok, or the refusal's code")]
    message: str


class AuditLogs(Answer):
    logs: list[AuditRecord]


class RunningTask(Answer):
    task_id: str
    worker_id: str | None
    attempt: int
    lease_left_seconds: float | None


class QueueStats(Answer):
    tasks_by_status: dict[str, int]
    queue_depth: int
    oldest_staged_seconds: float | None
    running: list[RunningTask]
    workers_busy: int


class StorageReport(Answer):
    full: bool
    free_bytes: int | None


class Health(Answer):
    status: Annotated[str, Field(description="ok, or storage_full while writes are refused")]
    version: str
    storage: StorageReport


class Ready(Answer):
    status: str
    checks: Annotated[dict[str, str], Field(description="database, blobs and disk: each ok")]


# operation -> its success answer
ANSWERS: dict[str, type[Answer]] = {
    "user_login": Login,
    "user_logout": Done,
    "get_current_user": CurrentUser,
    "user_register": Done,
    "user_update": Done,
    "user_redeem_reset": Done,
    "user_change_password": Done,
    "reset_user_password": LockedUser,
    "delete_user": Done,
    "list_users": UserIds,
    "upload_payload": PayloadUploaded,
    "register_function": FunctionId,
    "update_function": FunctionId,
    "disable_function": Done,
    "delete_function": Done,
    "get_function": Function,
    "list_functions": FunctionLists,
    "get_function_usage_stats": FunctionUsage,
    "register_input_file": DataId,
    "register_output_file": DataId,
    "update_input_file": DataId,
    "update_output_file": DataId,
    "register_fusion_output": DataId,
    "accept_fusion_output": PendingOwners,
    "register_input_from_output": DataId,
    "get_input_file": RegisteredFile,
    "get_output_file": RegisteredFile,
    "list_files": FileLists,
    "upload_file": UploadedFile,
    "reserve_file": HostedFile,
    "create_task": TaskId,
    "assign_data_to_task": Done,
    "approve_task": Done,
    "invoke_task": Done,
    "cancel_task": Done,
    "get_task": Task,
    "list_tasks": TaskIds,
    "get_task_result": TaskResult,
    "get_output_cmac_by_tag": Cmac,
    "query_audit_logs": AuditLogs,
    "get_queue_stats": QueueStats,
}
