"""Teaclave's SDK shapes against a real server: its constructors, its dicts and numbers, its exception."""

from __future__ import annotations

import base64
import json
import warnings
from collections.abc import Callable
from urllib.parse import urlsplit

import pytest
from support.examples import build_example
from wasmtime import wat2wasm

from teabox.client import (
    AuthenticationService,
    Client,
    FrontendService,
    FunctionArgument,
    IgnoredTeaclaveArguments,
    TaskStatus,
    TeaclaveException,
    Unauthenticated,
)
from teabox.testing.local_server import LocalServer

TRAP = '(module (memory (export "memory") 1) (func (export "entrypoint") (param i32 i32) (result i32) unreachable))'


def test_teaclave_constructors_take_a_host_port_tuple_and_warn_once_about_attestation(
    platform_server: LocalServer,
) -> None:
    parts = urlsplit(platform_server.url)
    address = (parts.hostname, parts.port)
    with pytest.warns(IgnoredTeaclaveArguments) as caught:
        auth = AuthenticationService(address, "ias_root_ca_cert.pem", "enclave_info.toml").connect()
    assert len(caught) == 1
    message = str(caught[0].message)
    assert "as_root_ca_cert_path, enclave_info_path ignored" in message and "no SGX enclaves" in message
    assert caught[0].filename == __file__  # the warning points at the script's line, not the SDK's
    token = auth.user_login(platform_server.admin_id, platform_server.admin_password)

    with pytest.warns(IgnoredTeaclaveArguments, match="dump_report"):
        frontend = FrontendService(address, "ias_root_ca_cert.pem", "enclave_info.toml", True)
    frontend.metadata = {"id": platform_server.admin_id, "token": token}
    assert frontend.url == platform_server.url == auth.url
    assert frontend.get_current_user().user_id == platform_server.admin_id
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        FrontendService(platform_server.url).close()  # nothing to ignore, nothing said
    auth.close()
    frontend.close()


def test_a_teaclave_script_indexes_the_records_as_its_dicts(
    make_user: Callable[..., Client], admin_client: Client
) -> None:
    vendor = make_user("vendor", "FunctionOwner")
    user = make_user("user", "DataOwner", "lab")
    payload = build_example("add-c")

    # Teaclave-style fragment: dicts indexed, statuses compared with Teaclave's numbers.
    function_id = vendor.register_function(
        "add", "adds", "wamr", payload=list(payload), arguments=[FunctionArgument("a"), FunctionArgument("b")]
    )
    functions = vendor.list_functions(vendor.user_id)
    assert function_id in functions["registered_functions"]
    assert functions["allowed_functions"] == []
    function = vendor.get_function(function_id)
    assert "payload" in function and "user_allowlist" in function
    assert function["payload"] == payload and function["name"] == "add" and function["executor_type"] == "wamr"
    assert function["arguments"] == [
        {"key": "a", "default_value": "", "allow_overwrite": True},
        {"key": "b", "default_value": "", "allow_overwrite": True},
    ]
    assert function["usage_quota"] == -1 and function["owner"] == vendor.user_id
    assert function.payload_id is not None and function.name == "add"  # the typed attributes stay
    assert vendor.get_function_usage_stats(function_id)["function_quota"] == -1

    task_id = user.create_task(function_id, {"b": 2, "a": 40}, "wamr")
    task = user.get_task(task_id)
    assert task["status"] == 0 == TaskStatus.Created and task.status == "Created"
    assert task["function_arguments"] == '{"a":40,"b":2}'
    assert task["result"] == {}
    user.invoke_task(task_id)
    assert user.get_task_result(task_id) == b"42"
    task = user.get_task(task_id)
    assert task["status"] == 10 == TaskStatus.Finished
    assert base64.b64decode(task["result"]["Ok"]["return_value"]) == b"42"
    assert task["participants"] == [user.user_id] and task["creator"] == user.user_id
    assert json.loads(json.dumps(dict(task)))["task_id"] == task_id  # plain JSON, as MessageToDict gave

    canceled = user.create_task(function_id, {"a": 1, "b": 1}, "wamr")
    user.cancel_task(canceled)
    view = user.get_task(canceled)
    assert view["status"] == TaskStatus.Canceled == 20 and view["result"]["Err"]["reason"]

    trapping = vendor.register_function("trap", "", "wamr", payload=wat2wasm(TRAP))
    failed = user.create_task(trapping, {}, "wamr")
    user.invoke_task(failed)
    with pytest.raises(TeaclaveException):
        user.get_task_result(failed)
    view = user.get_task(failed)
    assert view["status"] == TaskStatus.Failed == 99 and "unreachable" in view["result"]["Err"]["reason"]

    # Teaclave takes a disabled function out of its owner's list (and so does teabox).
    vendor.disable_function(function_id)
    assert function_id not in vendor.list_functions()["registered_functions"]
    assert function_id not in admin_client.list_functions(vendor.user_id)["registered_functions"]
    assert vendor.get_function(function_id).disabled is True


def test_an_allowlisted_user_sees_no_payload_key(make_user: Callable[..., Client]) -> None:
    vendor = make_user("vendor", "FunctionOwner")
    listed = make_user("listed", "DataOwner", "lab")
    function_id = vendor.register_function(
        "private", "", "wamr", public=False, payload=build_example("add-c"), user_allowlist=[listed.user_id]
    )
    assert function_id in listed.list_functions()["allowed_functions"]
    view = listed.get_function(function_id)
    assert "payload" not in view and "user_allowlist" not in view
    with pytest.raises(KeyError):
        view["payload"]


def test_errors_are_teaclave_exceptions_naming_the_users_call(platform_server: LocalServer) -> None:
    with Client(platform_server.url, token="not-a-token") as stale:
        with pytest.raises(TeaclaveException) as caught:
            stale.register_function("f", "", "wamr", payload=b"\0asm\1\0\0\0")
        assert isinstance(caught.value, Unauthenticated)
        assert caught.value.method == "register_function"
        assert str(caught.value).startswith("register_function: ") and "upload_payload" not in str(caught.value)
        with pytest.raises(TeaclaveException, match=r"^upload_payload: "):
            stale.upload_payload(b"\0asm\1\0\0\0")
