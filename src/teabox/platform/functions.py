"""Functions: registration (with the payload checked against the ABI), updates, views and usage.

Fixes over Teaclave: the allowlist is checked by user id everywhere (Teaclave
used the role attribute when creating tasks); a disabled or deleted function
cannot be used for new tasks or invoked; the owner of a private function may
read its usage statistics; a function carries its own run limits; a payload
id can be registered only by a user who uploaded that payload (or the admin),
so the shared blob store never lets one user name another's blob.
"""

from __future__ import annotations

from dataclasses import asdict, fields
from typing import Any

from sqlalchemy import delete, select

from teabox.abi.check import check
from teabox.errors import InvalidPayload
from teabox.executor.channels import is_reserved
from teabox.platform.builtin_functions import BUILTIN_EXECUTOR, builtin_payload
from teabox.platform.context import Ctx, Resources, new_id, operation
from teabox.platform.errors import Invalid, NoSuchObject, NotPermitted
from teabox.platform.models import Function, FunctionAllow, PayloadUpload
from teabox.platform.ordering import codepoint
from teabox.platform.staged import TaskLimits
from teabox.platform.timefmt import iso
from teabox.platform.users import unknown_users

EXECUTOR_TYPES = {"wamr": "wasm", "wasm": "wasm", BUILTIN_EXECUTOR: BUILTIN_EXECUTOR}
# Bounds on what a function may ask for; the defaults are TaskLimits'.
MAX_TIMEOUT_SECONDS = 3600.0
MAX_INT64 = 2**63 - 1  # what the database stores as an integer; wasmtime counts fuel in an unsigned 64-bit word
MAX_MEMORY_BYTES = 4 * 1024 * 1024 * 1024
MIN_MEMORY_BYTES = 64 * 1024


def executor_name(executor_type: str) -> str:
    try:
        return EXECUTOR_TYPES[executor_type]
    except KeyError:
        raise Invalid(
            f"executor '{executor_type}' is not supported: use 'wamr' or 'wasm' (the WebAssembly executor), "
            "or 'builtin' for one of Teaclave's built-in functions",
            "invalid_executor",
        ) from None


def get_function_row(ctx: Ctx, function_id: str) -> Function:
    function = ctx.session.get(Function, function_id)
    if function is None or function.deleted:
        raise NoSuchObject(f"there is no function '{function_id}'", "unknown_function")
    return function


def allowlist_of(ctx: Ctx, function_id: str) -> list[str]:
    return list(
        ctx.session.scalars(
            select(FunctionAllow.user_id)
            .where(FunctionAllow.function_id == function_id)
            .order_by(codepoint(FunctionAllow.user_id))
        )
    )


def is_allowlisted(ctx: Ctx, function_id: str, user_id: str) -> bool:
    return ctx.session.get(FunctionAllow, (function_id, user_id)) is not None


def may_use(ctx: Ctx, function: Function) -> bool:
    """Whether the caller may see the function (at least partly) and run tasks with it."""
    actor = ctx.user
    return (
        function.public
        or actor.role.is_admin
        or function.owner == actor.user_id
        or is_allowlisted(ctx, function.id, actor.user_id)
    )


def full_view_allowed(ctx: Ctx, function: Function) -> bool:
    actor = ctx.user
    return function.public or actor.role.is_admin or function.owner == actor.user_id


def _limits(requested: dict[str, Any] | None) -> dict[str, Any]:
    values = asdict(TaskLimits())
    requested = dict(requested or {})
    unknown = set(requested) - {f.name for f in fields(TaskLimits)}
    if unknown:
        raise Invalid(f"unknown limits: {', '.join(sorted(unknown))}", "invalid_limits")
    values.update({k: v for k, v in requested.items() if v is not None or k == "fuel"})
    if not 0 < float(values["timeout_seconds"]) <= MAX_TIMEOUT_SECONDS:
        raise Invalid(f"limits.timeout_seconds must be above 0 and at most {MAX_TIMEOUT_SECONDS:g}", "invalid_limits")
    if not MIN_MEMORY_BYTES <= int(values["memory_bytes"]) <= MAX_MEMORY_BYTES:
        raise Invalid(
            f"limits.memory_bytes must be between {MIN_MEMORY_BYTES} and {MAX_MEMORY_BYTES}", "invalid_limits"
        )
    if values["fuel"] is not None and not 0 < int(values["fuel"]) <= MAX_INT64:
        raise Invalid(
            f"limits.fuel must be a positive number of instructions up to {MAX_INT64}, or null for none",
            "invalid_limits",
        )
    if not 0 < int(values["max_output_bytes"]) <= MAX_INT64:
        raise Invalid(f"limits.max_output_bytes must be positive and at most {MAX_INT64}", "invalid_limits")
    return values


def _declarations(kind: str, items: list[dict[str, Any]], key: str) -> list[dict[str, Any]]:
    seen: set[str] = set()
    for item in items:
        name = item[key]
        if not name or len(name) > 255 or "\x00" in name:
            raise Invalid(f"{kind} names must be 1-255 characters without NUL (got {name!r})", f"invalid_{kind}")
        if kind != "argument" and is_reserved(name):
            raise Invalid(f"{kind} names starting with 'teabox:' are reserved (got {name!r})", f"invalid_{kind}")
        if name in seen:
            raise Invalid(f"{kind} '{name}' is declared twice", f"invalid_{kind}")
        if "\x00" in item.get("default_value", ""):  # the guest gets its arguments as C strings
            raise Invalid(f"the default value of {kind} '{name}' contains a NUL character", f"invalid_{kind}")
        seen.add(name)
    return [dict(item) for item in items]


def record_upload(ctx: Ctx, payload_id: str) -> None:
    """Remember that the caller holds the payload ``payload_id`` (uploaded it, or gave it inline)."""
    if ctx.session.get(PayloadUpload, (payload_id, ctx.user.user_id)) is None:
        ctx.session.add(PayloadUpload(sha256=payload_id, user_id=ctx.user.user_id))


def _may_name_payload(ctx: Ctx, payload_id: str, current: str | None) -> bool:
    """The uploader, the admin, or the function's owner keeping the payload it already has."""
    return (
        ctx.user.role.is_admin
        or payload_id == current
        or ctx.session.get(PayloadUpload, (payload_id, ctx.user.user_id)) is not None
    )


def _check_payload(resources: Resources, params: dict[str, Any]) -> dict[str, Any]:
    """Store an inline payload and check the payload against the ABI before the transaction opens:
    validating a large module takes a while, and must not hold the write lock meanwhile.

    What the check finds is only reported once the transaction has established that the
    caller may name this payload: the answer must say nothing about other users' blobs.
    """
    prepared = dict(params)
    payload_id, payload = prepared.pop("payload_id", None), prepared.pop("payload", None)
    blobs, max_bytes = resources.blobs, resources.settings.max_payload_bytes
    if executor_name(prepared.get("executor_type", "")) == BUILTIN_EXECUTOR:
        # The platform supplies the module: it is the caller's to use, and it passes the check.
        builtin_id, _ = builtin_payload(blobs, prepared.get("name", ""), payload_id, payload)
        return prepared | {"checked_payload_id": builtin_id, "inline_payload": True, "problem": None}
    if (payload_id is None) == (payload is None):
        raise Invalid("give exactly one of payload_id (from upload_payload) and payload (base64)", "invalid_payload")
    if payload is not None:
        if len(payload) > max_bytes:
            raise Invalid(f"the payload is larger than {max_bytes} bytes", "invalid_payload")
        payload_id, _ = blobs.put(payload)
    assert payload_id is not None
    problem = None
    if blobs.exists(payload_id):
        if blobs.size(payload_id) > max_bytes:
            problem = f"the payload is larger than {max_bytes} bytes"
        else:
            try:
                check(blobs.read(payload_id))
            except InvalidPayload as exc:
                problem = str(exc)
    return prepared | {"checked_payload_id": payload_id, "inline_payload": payload is not None, "problem": problem}


def _load_payload(ctx: Ctx, payload_id: str, inline: bool, problem: str | None, current: str | None) -> int:
    """Establish that the caller may use the checked payload, then report what the check found; its size."""
    if inline:
        record_upload(ctx, payload_id)
    # Asked before whether the blob exists, so that the answer says nothing about other users' blobs.
    if not _may_name_payload(ctx, payload_id, current):
        raise NotPermitted(
            f"you have not uploaded a payload with the id {payload_id}: upload it with upload_payload first",
            "payload_not_yours",
        )
    if not ctx.blobs.exists(payload_id):
        raise NoSuchObject(f"no uploaded payload has the id {payload_id}", "unknown_payload")
    if problem is not None:
        raise Invalid(problem, "invalid_payload")
    return ctx.blobs.size(payload_id)


def _apply(
    ctx: Ctx,
    function: Function,
    *,
    name: str,
    description: str,
    executor_type: str,
    public: bool,
    checked_payload_id: str,
    inline_payload: bool,
    problem: str | None,
    arguments: list[dict[str, Any]],
    inputs: list[dict[str, Any]],
    outputs: list[dict[str, Any]],
    user_allowlist: list[str],
    usage_quota: int | None,
    limits: dict[str, Any] | None,
) -> None:
    if not 1 <= len(name) <= 255:
        raise Invalid("a function name must be 1-255 characters", "invalid_name")
    function.name, function.description, function.public = name, description, public
    function.executor_type = executor_name(executor_type)
    function.arguments = _declarations("argument", arguments, "key")
    function.inputs = _declarations("input", inputs, "name")
    function.outputs = _declarations("output", outputs, "name")
    function.usage_quota = None if usage_quota is None or usage_quota < 0 else usage_quota
    function.limits = _limits(limits)
    allowlist = sorted(set(user_allowlist))
    missing = unknown_users(ctx, allowlist)
    if missing:
        raise Invalid(f"user_allowlist names unknown users: {', '.join(missing)}", "invalid_allowlist")
    # None for a new function; an update may keep the payload the function already has.
    current = function.payload_sha256
    function.payload_size = _load_payload(ctx, checked_payload_id, inline_payload, problem, current)
    function.payload_sha256 = checked_payload_id
    function.updated_at = ctx.now
    ctx.session.add(function)
    ctx.session.flush()
    ctx.session.execute(delete(FunctionAllow).where(FunctionAllow.function_id == function.id))
    ctx.session.add_all(FunctionAllow(function_id=function.id, user_id=user) for user in allowlist)


@operation("upload_payload")
def upload_payload(ctx: Ctx, *, payload_id: str, size: int) -> dict[str, Any]:
    """Record an upload the service has streamed into the blob store: the caller may now register it."""
    ctx.object_id = payload_id
    record_upload(ctx, payload_id)
    return {"payload_id": payload_id, "size": size}


@operation("register_function", prepare=_check_payload)
def register_function(ctx: Ctx, **fields_: Any) -> dict[str, Any]:
    function = Function(
        id=new_id("function"), owner=ctx.user.user_id, disabled=False, deleted=False, usage_count=0, created_at=ctx.now
    )
    ctx.object_id = function.id
    _apply(ctx, function, **fields_)
    return {"function_id": function.id}


def _owned(ctx: Ctx, function_id: str, what: str, *, admin_too: bool = False) -> Function:
    ctx.object_id = function_id
    function = get_function_row(ctx, function_id)
    if function.owner != ctx.user.user_id and not (admin_too and ctx.user.role.is_admin):
        raise NotPermitted(f"only the owner of {function_id} may {what} it")
    return function


@operation("update_function", prepare=_check_payload)
def update_function(ctx: Ctx, *, function_id: str, **fields_: Any) -> dict[str, Any]:
    function = _owned(ctx, function_id, "update")
    _apply(ctx, function, **fields_)
    return {"function_id": function.id}


@operation("disable_function")
def disable_function(ctx: Ctx, *, function_id: str) -> dict[str, Any]:
    function = _owned(ctx, function_id, "disable", admin_too=True)
    function.disabled, function.updated_at = True, ctx.now
    return {}


@operation("delete_function")
def delete_function(ctx: Ctx, *, function_id: str) -> dict[str, Any]:
    function = _owned(ctx, function_id, "delete", admin_too=True)
    # Kept as a tombstone: tasks created with it still name it, and their payload stays in the blob store.
    function.deleted, function.disabled, function.updated_at = True, True, ctx.now
    ctx.session.execute(delete(FunctionAllow).where(FunctionAllow.function_id == function.id))
    return {}


def function_view(ctx: Ctx, function: Function) -> dict[str, Any]:
    view: dict[str, Any] = {
        "function_id": function.id,
        "name": function.name,
        "description": function.description,
        "owner": function.owner,
        "executor_type": function.executor_type,
        "public": function.public,
        "disabled": function.disabled,
        "payload_size": function.payload_size,
        "arguments": function.arguments,
        "inputs": function.inputs,
        "outputs": function.outputs,
        "usage_quota": function.usage_quota,
        "limits": function.limits,
        "created_at": iso(function.created_at),
        "updated_at": iso(function.updated_at),
    }
    if full_view_allowed(ctx, function):
        view["payload_id"] = function.payload_sha256
        view["user_allowlist"] = allowlist_of(ctx, function.id)
    return view


def _visible(ctx: Ctx, function_id: str) -> Function:
    ctx.object_id = function_id
    function = get_function_row(ctx, function_id)
    if not may_use(ctx, function):
        raise NotPermitted(f"the function {function_id} is private and you are not on its allowlist")
    return function


@operation("get_function")
def get_function(ctx: Ctx, *, function_id: str) -> dict[str, Any]:
    return function_view(ctx, _visible(ctx, function_id))


@operation("download_payload")
def download_payload(ctx: Ctx, *, function_id: str) -> dict[str, Any]:
    function = _visible(ctx, function_id)
    if not full_view_allowed(ctx, function):
        raise NotPermitted(f"only the owner and the admin may read the payload of the private function {function_id}")
    return {"payload_id": function.payload_sha256, "size": function.payload_size}


@operation("list_functions")
def list_functions(ctx: Ctx, *, user_id: str | None = None) -> dict[str, Any]:
    """The caller's (or, for the admin, any user's) usable functions: as in Teaclave, a disabled
    (or deleted) function leaves both lists, though get_function still shows it to its owner."""
    user_id = user_id or ctx.user.user_id
    ctx.object_id = user_id
    if user_id != ctx.user.user_id and not ctx.user.role.is_admin:
        raise NotPermitted("you may list only your own functions")
    registered = ctx.session.scalars(
        select(Function.id)
        .where(Function.owner == user_id, Function.disabled.is_(False))
        .order_by(Function.created_at, codepoint(Function.id))
    )
    allowed = ctx.session.scalars(
        select(FunctionAllow.function_id)
        .join(Function, Function.id == FunctionAllow.function_id)
        .where(FunctionAllow.user_id == user_id, Function.disabled.is_(False))
        .order_by(Function.created_at, codepoint(Function.id))
    )
    return {"registered_functions": list(registered), "allowed_functions": list(allowed)}


@operation("get_function_usage_stats")
def get_function_usage_stats(ctx: Ctx, *, function_id: str) -> dict[str, Any]:
    function = _visible(ctx, function_id)
    return {"function_quota": function.usage_quota, "current_usage": function.usage_count}
