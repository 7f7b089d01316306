"""Request bodies, one model per endpoint, named after the SDK method's parameters.

Models are strict and forbid unknown fields, so a wrong type or a misspelt
field is refused with 400 naming it instead of being coerced or ignored.
Bytes travel as hex (keys, IVs, cmacs) or base64 (an inline payload).
"""

from __future__ import annotations

import base64
import binascii
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field


def _hex(value: Any) -> Any:
    if isinstance(value, str):
        try:
            return bytes.fromhex(value)
        except ValueError:
            raise ValueError("must be a hex string (two hex digits per byte)") from None
    return value


def _base64(value: Any) -> Any:
    if isinstance(value, str):
        try:
            return base64.b64decode(value, validate=True)
        except (binascii.Error, ValueError):
            raise ValueError("must be base64") from None
    return value


Hex = Annotated[bytes, BeforeValidator(_hex)]
Base64 = Annotated[bytes, BeforeValidator(_base64)]
Name = Annotated[str, Field(min_length=1, max_length=255)]


class Request(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


class Empty(Request):
    pass


class UserLogin(Request):
    user_id: str
    password: str


class UserRegister(Request):
    user_id: str
    password: str
    role: str
    attribute: str = ""


class UserChangePassword(Request):
    password: str


class UserRef(Request):
    user_id: str


class OptionalUser(Request):
    user_id: str | None = None


class FunctionArgument(Request):
    key: Name
    default_value: str = ""
    allow_overwrite: bool = True


class FunctionData(Request):
    name: Name
    description: str = ""
    optional: bool = False


class Limits(Request):
    timeout_seconds: float | None = None
    memory_bytes: int | None = None
    fuel: int | None = None
    max_output_bytes: int | None = None


class RegisterFunction(Request):
    name: str
    description: str = ""
    executor_type: str = "wamr"
    public: bool = True
    payload: Base64 | None = None
    payload_id: str | None = None
    arguments: list[FunctionArgument] = []
    inputs: list[FunctionData] = []
    outputs: list[FunctionData] = []
    user_allowlist: list[str] = []
    usage_quota: int | None = None
    limits: Limits | None = None

    def params(self) -> dict[str, Any]:
        data = self.model_dump()
        data["limits"] = self.limits.model_dump(exclude_unset=True) if self.limits else None
        return data


class UpdateFunction(RegisterFunction):
    function_id: str


class FunctionRef(Request):
    function_id: str


class RegisterInputFile(Request):
    url: str
    schema_: str = Field(alias="schema")
    key: Hex
    iv: Hex
    cmac: Hex | None = None

    model_config = ConfigDict(extra="forbid", strict=True, populate_by_name=True)

    def params(self) -> dict[str, Any]:
        return {"url": self.url, "schema": self.schema_, "key": self.key, "iv": self.iv, "cmac": self.cmac}


class RegisterOutputFile(Request):
    url: str
    schema_: str = Field(alias="schema")
    key: Hex
    iv: Hex

    model_config = ConfigDict(extra="forbid", strict=True, populate_by_name=True)

    def params(self) -> dict[str, Any]:
        return {"url": self.url, "schema": self.schema_, "key": self.key, "iv": self.iv}


class UpdateFile(Request):
    data_id: str
    url: str


class FusionOutput(Request):
    owner_list: list[str]


class DataRef(Request):
    data_id: str


class OwnerList(Request):
    data_name: str
    uids: list[str]


class CreateTask(Request):
    function_id: str
    function_arguments: dict[str, Any] = {}
    executor: str = "wamr"
    inputs_ownership: list[OwnerList] = []
    outputs_ownership: list[OwnerList] = []


class DataMap(Request):
    data_name: str
    data_id: str


class AssignData(Request):
    task_id: str
    inputs: list[DataMap] = []
    outputs: list[DataMap] = []


class TaskRef(Request):
    task_id: str


class GetTaskResult(Request):
    task_id: str
    timeout: float = Field(default=30.0, ge=0)


class OutputCmac(Request):
    task_id: str
    tag: str


class ReserveFile(Request):
    name: str


class QueryAuditLogs(Request):
    message: str = ""
    limit: int = 100
    user_id: str | None = None
    action: str | None = None


# endpoint (= platform operation) -> request model
ENDPOINTS: dict[str, type[Request]] = {
    "user_login": UserLogin,
    "user_logout": Empty,
    "get_current_user": Empty,
    "user_register": UserRegister,
    "user_update": UserRegister,
    "user_change_password": UserChangePassword,
    "reset_user_password": UserRef,
    "delete_user": UserRef,
    "list_users": OptionalUser,
    "register_function": RegisterFunction,
    "update_function": UpdateFunction,
    "disable_function": FunctionRef,
    "delete_function": FunctionRef,
    "get_function": FunctionRef,
    "list_functions": OptionalUser,
    "get_function_usage_stats": FunctionRef,
    "register_input_file": RegisterInputFile,
    "register_output_file": RegisterOutputFile,
    "update_input_file": UpdateFile,
    "update_output_file": UpdateFile,
    "register_fusion_output": FusionOutput,
    "register_input_from_output": DataRef,
    "get_input_file": DataRef,
    "get_output_file": DataRef,
    "list_files": Empty,
    "reserve_file": ReserveFile,
    "create_task": CreateTask,
    "assign_data_to_task": AssignData,
    "approve_task": TaskRef,
    "invoke_task": TaskRef,
    "cancel_task": TaskRef,
    "get_task": TaskRef,
    "list_tasks": Empty,
    "get_task_result": GetTaskResult,
    "get_output_cmac_by_tag": OutputCmac,
    "query_audit_logs": QueryAuditLogs,
    "get_queue_stats": Empty,
}


def params_of(body: Request) -> dict[str, Any]:
    """The platform operation's keyword arguments for a parsed body."""
    custom = getattr(body, "params", None)
    return custom() if callable(custom) else body.model_dump()
