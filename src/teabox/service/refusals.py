"""Which refusals each operation can answer with, for its OpenAPI entry.

Some statuses follow from what an operation is (any call can be malformed or
hit a bug, a JSON body can be too large, a call with a token can have a bad
one or a role that may not make it, a write can find the disk full); the
others from what it does, listed per operation below. The fuzzing test
(``tests/security/test_service_fuzz.py``) checks every status it provokes
against these declarations, and ``tests/service`` checks the table's rows
against the operations.
"""

from __future__ import annotations

from typing import Any

from teabox.platform.context import OPERATIONS
from teabox.service.answers import ErrorBody

WHY: dict[int, str] = {
    400: "malformed request: not JSON, a missing or unknown field, a wrong type, bad hex, a bad URL",
    401: "no token, or an unknown, expired or revoked one; wrong credentials",
    403: "the caller's role or relation to the object does not allow the call",
    404: "an unknown id",
    409: "the object's state or another object conflicts with the call",
    413: "the body is over its size limit",
    422: "well-formed but invalid content",
    429: "a per-user or per-address limit; see Retry-After",
    500: "a bug (nothing of the call was kept)",
    503: "a service-wide capacity limit; see Retry-After",
    507: "the data directory is full: nothing of the call was kept",
}

# operation -> the statuses its own rules add to those that follow from its kind
OWN: dict[str, frozenset[int]] = {
    "user_login": frozenset({429}),
    "user_logout": frozenset(),
    "get_current_user": frozenset(),
    "user_register": frozenset({409, 422}),
    "user_update": frozenset({404, 409, 422}),
    "user_redeem_reset": frozenset({422}),
    "user_change_password": frozenset({404, 422}),
    "reset_user_password": frozenset({404, 409}),
    "delete_user": frozenset({404, 409}),
    "list_users": frozenset(),
    "upload_payload": frozenset(),
    "register_function": frozenset({404, 422}),
    "update_function": frozenset({404, 422}),
    "disable_function": frozenset({404}),
    "delete_function": frozenset({404}),
    "get_function": frozenset({404}),
    "download_payload": frozenset({404}),
    "list_functions": frozenset(),
    "get_function_usage_stats": frozenset({404}),
    "register_input_file": frozenset({404, 409, 422}),
    "register_output_file": frozenset({404, 409, 422}),
    "update_input_file": frozenset({404, 409, 422}),
    "update_output_file": frozenset({404, 409, 422}),
    "register_fusion_output": frozenset({422}),
    "accept_fusion_output": frozenset({404}),
    "register_input_from_output": frozenset({404, 409}),
    "get_input_file": frozenset({404}),
    "get_output_file": frozenset({404}),
    "list_files": frozenset(),
    "upload_file": frozenset({422}),
    "reserve_file": frozenset({422}),
    "download_file": frozenset({404, 409, 422}),
    "create_task": frozenset({404, 409, 422}),
    "assign_data_to_task": frozenset({404, 409, 422}),
    "approve_task": frozenset({404, 409}),
    "invoke_task": frozenset({404, 409}),
    "cancel_task": frozenset({404, 409}),
    "get_task": frozenset({404}),
    "list_tasks": frozenset(),
    "get_task_result": frozenset({404, 429, 503}),
    "get_output_cmac_by_tag": frozenset({404, 409}),
    "query_audit_logs": frozenset({422}),
    "get_queue_stats": frozenset(),
}

# Operations whose arguments come in the query string: they read no body, so none is too large.
_NO_BODY = frozenset({"download_file", "download_payload"})


def statuses(name: str) -> frozenset[int]:
    """Every status but 200 that operation ``name`` can answer with."""
    operation = OPERATIONS[name]
    found = {400, 500, *OWN[name]}
    found |= {401, 403} if operation.authenticated else {401}
    if name not in _NO_BODY:
        found.add(413)
    if not operation.readonly:
        found.add(507)
    return frozenset(found)


def responses(name: str) -> dict[int | str, dict[str, Any]]:
    """The ``responses`` of operation ``name``'s route: each refusal, with the error body."""
    return {status: {"model": ErrorBody, "description": WHY[status]} for status in sorted(statuses(name))}
