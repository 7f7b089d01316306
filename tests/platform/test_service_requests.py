"""Bad requests get a 4xx with a message and change nothing; uploads, downloads and the audit log."""

from __future__ import annotations

import base64

import pytest
from support.platform_api import MAX_UPLOAD, Api, function_body, register_function, wat_payload


@pytest.mark.parametrize(
    ("content", "code"),
    [
        (b'{"task_id": ', "malformed_json"),
        (b"not json at all", "malformed_json"),
        (b"[1, 2]", "invalid_request"),
        (b'"a string"', "invalid_request"),
        (b"", "invalid_request"),
    ],
)
def test_malformed_bodies(admin: Api, content: bytes, code: str) -> None:
    response = admin.upload("get_task", content)
    assert response.status_code == 400
    assert response.json()["error"]["code"] == code
    assert response.json()["error"]["message"]


@pytest.mark.parametrize(
    ("method", "body", "field"),
    [
        ("get_task", {"task_id": 5}, "task_id"),
        ("get_task", {}, "task_id"),
        ("get_task", {"task_id": "t", "extra": 1}, "extra"),
        ("create_task", {"function_id": "f", "inputs_ownership": "x"}, "inputs_ownership"),
        ("create_task", {"function_id": "f", "inputs_ownership": [{"data_name": "a", "uids": "u"}]}, "uids"),
        ("register_input_file", {"url": "https://x/a", "schema": "raw", "key": "zz", "iv": ""}, "key"),
        ("register_function", {"name": "f", "payload": "!!!not base64"}, "payload"),
        ("register_function", {"name": "f", "public": "yes"}, "public"),
        ("get_task_result", {"task_id": "t", "timeout": -1}, "timeout"),
        ("query_audit_logs", {"limit": "10"}, "limit"),
    ],
)
def test_wrong_types_and_fields_are_named(admin: Api, method: str, body: dict, field: str) -> None:
    message = admin.refused(method, 400, "invalid_request", **body)
    assert field in message


def test_unknown_ids(admin: Api) -> None:
    data_owner = admin.new_user("DataOwner", "ids")
    data_owner.refused("get_task", 404, "unknown_task", task_id="task-nope")
    data_owner.refused("approve_task", 404, "unknown_task", task_id="task-nope")
    data_owner.refused("get_function", 404, "unknown_function", function_id="function-nope")
    data_owner.refused("create_task", 404, "unknown_function", function_id="function-nope")
    data_owner.refused("get_input_file", 404, "unknown_file", data_id="input-nope")
    data_owner.refused("get_output_file", 404, "unknown_file", data_id="output-nope")
    admin.refused("delete_user", 404, "unknown_user", user_id="nobody-here")
    response = admin.raw("no_such_method", {})
    assert response.status_code == 404 and response.json()["error"]["code"] == "not_found"


def test_authentication_is_required_and_checked(admin: Api) -> None:
    anonymous = Api(admin.url, http=admin.http)
    anonymous.refused("list_tasks", 401, "unauthenticated")
    anonymous.token = "forged-token"
    anonymous.refused("list_tasks", 401, "invalid_token")
    anonymous.token = None
    anonymous.refused("user_login", 401, "invalid_credentials", user_id="admin", password="guess guess")
    anonymous.refused("user_login", 401, "invalid_credentials", user_id="nobody", password="guess guess")


def test_invalid_payload_is_refused_at_registration(admin: Api) -> None:
    owner = admin.new_user("FunctionOwner")
    message = owner.refused("register_function", 422, "invalid_payload", **function_body(b"\x00asm\x01\x00\x00\x00"))
    assert "entrypoint" in message
    owner.refused("register_function", 422, "invalid_payload", **function_body(b"garbage"))
    assert owner.call("list_functions")["registered_functions"] == []


def test_invalid_function_fields(admin: Api) -> None:
    owner = admin.new_user("FunctionOwner")
    body = function_body(wat_payload())
    owner.refused("register_function", 422, "invalid_executor", **{**body, "executor_type": "python"})
    owner.refused("register_function", 422, "invalid_allowlist", **{**body, "user_allowlist": ["ghost-user"]})
    owner.refused("register_function", 422, "invalid_input", **{**body, "inputs": [{"name": "a"}, {"name": "a"}]})
    owner.refused("register_function", 422, "invalid_limits", **{**body, "limits": {"timeout_seconds": 0}})
    owner.refused(  # one answer whether or not such a blob exists: only an uploaded payload can be named
        "register_function",
        403,
        "payload_not_yours",
        **{k: v for k, v in body.items() if k != "payload"},
        payload_id="0" * 64,
    )
    assert owner.call("list_functions")["registered_functions"] == []


def test_task_arguments_must_match(admin: Api) -> None:
    owner = admin.new_user("FunctionOwner")
    function_id = register_function(
        owner,
        arguments=[
            {"key": "a", "default_value": "1", "allow_overwrite": True},
            {"key": "fixed", "default_value": "2", "allow_overwrite": False},
        ],
    )
    me = admin.new_user("DataOwner", "args")
    assert "missing a" in me.refused("create_task", 422, "invalid_arguments", function_id=function_id)
    assert "fixed" in me.refused(
        "create_task", 422, "invalid_arguments", function_id=function_id, function_arguments={"a": "x", "fixed": "y"}
    )
    me.refused("create_task", 422, "invalid_arguments", function_id=function_id, function_arguments={"a": ["list"]})
    me.refused(
        "create_task",
        422,
        "invalid_executor",
        function_id=function_id,
        function_arguments={"a": "x"},
        executor="mesapy",
    )
    task_id = me.call("create_task", function_id=function_id, function_arguments={"a": "x"})["task_id"]
    assert me.call("get_task", task_id=task_id)["function_arguments"] == {"a": "x", "fixed": "2"}
    assert me.call("list_tasks")["task_ids"] == [task_id]


def test_file_fields_are_checked(admin: Api) -> None:
    me = admin.new_user("DataOwner", "files")
    good = {"url": "https://h/a.enc", "schema": "teaclave-file-128", "key": "00" * 16, "iv": "", "cmac": "11" * 16}
    me.refused("register_input_file", 422, "invalid_crypto", **{**good, "schema": "rot13"})
    me.refused("register_input_file", 422, "invalid_crypto", **{**good, "key": "00" * 15})
    me.refused("register_input_file", 422, "invalid_crypto", **{**good, "iv": "00" * 12})
    me.refused("register_input_file", 422, "invalid_crypto", **{**good, "cmac": "11" * 3})
    me.refused("register_input_file", 400, "invalid_url", **{**good, "url": "ftp://h/a"})
    me.refused("register_input_file", 403, "file_url_not_allowed", **{**good, "url": "file:///etc/passwd"})
    me.refused("register_output_file", 400, "invalid_url", url="data:,abc", schema="raw", key="", iv="")
    me.refused(
        "register_input_file",
        422,
        "invalid_crypto",
        url="https://h/b",
        schema="aes-gcm-128",
        key="00" * 16,
        iv="00" * 11,
        cmac="11" * 16,
    )
    assert me.call("register_input_file", **good)["data_id"].startswith("input-")


def test_uploads_downloads_and_size_limit(admin: Api) -> None:
    me = admin.new_user("DataOwner", "up")
    other = admin.new_user("DataOwner", "up")
    data = bytes(range(256)) * 64
    response = me.upload("upload_file", data, name="data.enc")
    assert response.status_code == 200, response.text
    uploaded = response.json()
    assert uploaded["url"] == f"teabox://files/{uploaded['file_id']}/data.enc" and uploaded["size"] == len(data)

    download = me.download("download_file", url=uploaded["url"])
    assert download.status_code == 200 and download.content == data
    refused = other.download("download_file", url=uploaded["url"])
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "forbidden"
    other.refused("register_input_file", 403, "forbidden", url=uploaded["url"], schema="raw", key="", iv="")

    too_big = me.upload("upload_file", b"x" * (MAX_UPLOAD + 1), name="big")
    assert too_big.status_code == 413 and too_big.json()["error"]["code"] == "too_large"

    def chunks():
        for _ in range(MAX_UPLOAD // 4096 + 2):
            yield b"y" * 4096

    streamed = me.upload("upload_file", chunks(), name="big")
    assert streamed.status_code == 413
    bad_name = me.upload("upload_file", b"1", name="../x")
    assert bad_name.status_code == 422
    owner = admin.new_user("FunctionOwner")
    not_allowed = owner.upload("upload_file", b"1", name="a")
    assert not_allowed.status_code == 403


def test_payload_upload_then_register(admin: Api) -> None:
    owner = admin.new_user("FunctionOwner")
    payload = wat_payload(3)
    response = owner.upload("upload_payload", payload)
    assert response.status_code == 200, response.text
    body = {k: v for k, v in function_body(payload).items() if k != "payload"}
    function_id = owner.call("register_function", **body, payload_id=response.json()["payload_id"])["function_id"]
    fetched = owner.download("download_payload", function_id=function_id)
    assert fetched.content == payload
    assert base64.b64encode(fetched.content)


def test_audit_log_records_changes_reads_and_refusals(admin: Api) -> None:
    owner = admin.new_user("FunctionOwner")
    function_id = register_function(owner)
    stranger = admin.new_user("DataOwner", "audit")
    owner.call("get_function", function_id=function_id)
    stranger.refused("update_function", 403, "forbidden", function_id=function_id, **function_body(wat_payload()))
    logs = admin.call("query_audit_logs", message=function_id, limit=50)["logs"]
    seen = [(entry["user_id"], entry["action"], entry["object_id"], entry["outcome"]) for entry in logs]
    assert (owner.user_id, "register_function", function_id, "ok") in seen
    assert (owner.user_id, "get_function", function_id, "ok") in seen
    assert (stranger.user_id, "update_function", function_id, "forbidden") in seen
    assert all(entry["timestamp"].endswith("Z") for entry in logs)
    assert [entry["id"] for entry in logs] == sorted((entry["id"] for entry in logs), reverse=True)
    logins = admin.call("query_audit_logs", user_id=owner.user_id, action="user_login")["logs"]
    assert len(logins) == 1 and logins[0]["outcome"] == "ok"
    stranger.refused("query_audit_logs", 403, "forbidden")
