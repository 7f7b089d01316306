"""API-level rules: which role may call which API at all (the admin may call every one)."""

from __future__ import annotations

import pytest
from support.platform_api import PASSWORD, Api, function_body, wat_payload

FUNC, DATA = "FunctionOwner", "DataOwner"
# API -> role kinds that may call it (besides the admin); bodies use unknown ids, so allowed calls stop at 404/409/422.
TABLE: dict[str, tuple[set[str], dict]] = {
    "get_current_user": ({FUNC, DATA, "DataOwnerManager"}, {}),
    "list_users": ({FUNC, DATA, "DataOwnerManager"}, {}),
    "user_register": ({FUNC, DATA, "DataOwnerManager"}, {"user_id": "x!", "password": PASSWORD, "role": "DataOwner-z"}),
    "reset_user_password": ({FUNC, DATA, "DataOwnerManager"}, {"user_id": "nobody-at-all"}),
    "delete_user": ({FUNC, DATA, "DataOwnerManager"}, {"user_id": "nobody-at-all"}),
    "register_function": ({FUNC}, function_body(b"bad")),
    "update_function": ({FUNC}, {"function_id": "function-x", **function_body(wat_payload())}),
    "disable_function": ({FUNC}, {"function_id": "function-x"}),
    "delete_function": ({FUNC}, {"function_id": "function-x"}),
    "get_function": ({FUNC, DATA, "DataOwnerManager"}, {"function_id": "function-x"}),
    "list_functions": ({FUNC, DATA, "DataOwnerManager"}, {"user_id": "someone-else"}),
    "get_function_usage_stats": ({FUNC, DATA, "DataOwnerManager"}, {"function_id": "function-x"}),
    "register_input_file": ({DATA, "DataOwnerManager"}, {"url": "ftp://x/y", "schema": "raw", "key": "", "iv": ""}),
    "register_output_file": ({DATA, "DataOwnerManager"}, {"url": "ftp://x/y", "schema": "raw", "key": "", "iv": ""}),
    "update_input_file": ({DATA, "DataOwnerManager"}, {"data_id": "input-x", "url": "https://x/y"}),
    "update_output_file": ({DATA, "DataOwnerManager"}, {"data_id": "output-x", "url": "https://x/y"}),
    "register_fusion_output": ({DATA, "DataOwnerManager"}, {"owner_list": []}),
    "register_input_from_output": ({DATA, "DataOwnerManager"}, {"data_id": "output-x"}),
    "get_input_file": ({DATA, "DataOwnerManager"}, {"data_id": "input-x"}),
    "get_output_file": ({DATA, "DataOwnerManager"}, {"data_id": "output-x"}),
    "reserve_file": ({DATA, "DataOwnerManager"}, {"name": "../bad"}),
    "create_task": ({DATA, "DataOwnerManager"}, {"function_id": "function-x"}),
    "assign_data_to_task": ({DATA, "DataOwnerManager"}, {"task_id": "task-x"}),
    "approve_task": ({FUNC, DATA, "DataOwnerManager"}, {"task_id": "task-x"}),
    "invoke_task": ({DATA, "DataOwnerManager"}, {"task_id": "task-x"}),
    "cancel_task": ({DATA, "DataOwnerManager"}, {"task_id": "task-x"}),
    "get_task": ({FUNC, DATA, "DataOwnerManager"}, {"task_id": "task-x"}),
    "get_task_result": ({FUNC, DATA, "DataOwnerManager"}, {"task_id": "task-x", "timeout": 0}),
    "get_output_cmac_by_tag": ({FUNC, DATA, "DataOwnerManager"}, {"task_id": "task-x", "tag": "t"}),
    "list_tasks": ({FUNC, DATA, "DataOwnerManager"}, {}),
    "query_audit_logs": (set(), {"limit": 1}),
}
ROLES = {"PlatformAdmin": "", FUNC: "", DATA: "rbac", "DataOwnerManager": "rbac"}


@pytest.fixture(scope="module")
def sessions(admin: Api) -> dict[str, Api]:
    return {
        role: admin if role == "PlatformAdmin" else admin.new_user(role, attribute) for role, attribute in ROLES.items()
    }


@pytest.mark.parametrize("role", list(ROLES))
@pytest.mark.parametrize("api", list(TABLE))
def test_api_table(sessions: dict[str, Api], role: str, api: str) -> None:
    allowed_roles, body = TABLE[api]
    response = sessions[role].raw(api, body)
    denied_by_role = response.status_code == 403 and "may not call" in response.json()["error"]["message"]
    assert denied_by_role == (role != "PlatformAdmin" and role not in allowed_roles), response.text


@pytest.mark.parametrize("role", list(ROLES))
def test_upload_endpoints_by_role(sessions: dict[str, Api], role: str) -> None:
    file_upload = sessions[role].upload("upload_file", b"1", name="a")
    payload_upload = sessions[role].upload("upload_payload", wat_payload())
    assert (file_upload.status_code == 200) == (role in ("PlatformAdmin", DATA, "DataOwnerManager"))
    assert (payload_upload.status_code == 200) == (role in ("PlatformAdmin", FUNC))
