"""Request bodies, one model per endpoint, named after the SDK method's parameters.

Models are strict and forbid unknown fields, so a wrong type or a misspelt
field is refused with 400 naming it instead of being coerced or ignored.
Bytes travel as hex (keys, IVs, cmacs) or base64 (an inline payload).

Before any field is looked at, the whole body is checked for what JSON can
carry but the platform cannot store or run: strings with lone UTF-16
surrogates (not Unicode text), integers beyond 64 bits and non-finite numbers
(``NaN``, which Python's JSON parser accepts). Each is refused with 400 naming
where it was, in every field of every model, present and future.
"""

from __future__ import annotations

import base64
import binascii
import math
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, model_validator
from pydantic_core import PydanticCustomError

from teabox.platform.audit import DEFAULT_AUDIT_LIMIT
from teabox.platform.auth import MAX_PASSWORD
from teabox.platform.functions import MAX_INT64


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


def check_json(value: Any) -> None:
    """Refuse a lone surrogate, an integer outside 64 bits or a non-finite number anywhere in ``value``.

    Iterative, so that no nesting depth can exhaust the stack.
    """
    pending: list[tuple[str, Any]] = [("", value)]
    while pending:
        path, item = pending.pop()
        if isinstance(item, str):
            _check_text(path, item)
        elif isinstance(item, bool):
            continue
        elif isinstance(item, int):
            if not -MAX_INT64 - 1 <= item <= MAX_INT64:
                raise PydanticCustomError(
                    "integer_too_large", "{field} is an integer that does not fit in 64 bits", {"field": path}
                )
        elif isinstance(item, float):
            if not math.isfinite(item):
                raise PydanticCustomError("number_not_finite", "{field} must be a finite number", {"field": path})
        elif isinstance(item, dict):
            for key, child in item.items():
                _check_text(f"a key of {path or 'the body'}", key)
                pending.append((f"{path}.{key}" if path else key, child))
        elif isinstance(item, list):
            pending.extend((f"{path}[{index}]", child) for index, child in enumerate(item))


def _check_text(path: str, text: str) -> None:
    if text.isascii():
        return
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise PydanticCustomError(
            "invalid_text",
            "{field} contains a lone UTF-16 surrogate, which is not Unicode text",
            {"field": path.encode("utf-8", "backslashreplace").decode("utf-8") or "the body"},
        ) from None


class Request(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    @model_validator(mode="before")
    @classmethod
    def _storable(cls, data: Any) -> Any:
        check_json(data)
        return data


class Empty(Request):
    pass


class UserLogin(Request):
    user_id: Annotated[str, Field(max_length=64)]
    password: Annotated[str, Field(max_length=MAX_PASSWORD)]  # no hash is computed for a longer one


class UserRegister(Request):
    user_id: str
    password: str
    role: str
    attribute: str = ""


class UserUpdate(Request):
    user_id: str
    role: str
    attribute: str = ""
    password: str | None = None


class UserRedeemReset(Request):
    user_id: str
    reset_token: str
    password: str


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
    limit: int = DEFAULT_AUDIT_LIMIT
    user_id: str | None = None
    action: str | None = None


# endpoint (= platform operation) -> request model
ENDPOINTS: dict[str, type[Request]] = {
    "user_login": UserLogin,
    "user_logout": Empty,
    "get_current_user": Empty,
    "user_register": UserRegister,
    "user_update": UserUpdate,
    "user_redeem_reset": UserRedeemReset,
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
    "accept_fusion_output": DataRef,
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
