"""Finding 14 (all but URLs): what JSON can carry but the platform cannot store or run is a 400 naming it.

Lone UTF-16 surrogates (``"\\ud800"`` is valid JSON but not Unicode text),
integers beyond 64 bits and non-finite numbers used to reach the database or
the engine and fail there with 500; values that would only fail at run time
(fuel that wraps, a NUL in an argument's default, a raw output) were accepted
at registration. The bodies are sent as raw bytes, exactly as an attacker
would write them.
"""

from __future__ import annotations

import base64
import json

import pytest
import wasmtime
from support.service_calls import RETURN_7, admin_token, error, new_user, ok, post, wat_function

from teabox.testing.local_server import LocalServer

LONE = "\\ud800"  # the JSON escape, as it travels


@pytest.fixture(scope="module")
def owner(platform_server: LocalServer) -> str:
    return new_user(platform_server, admin_token(platform_server), "FunctionOwner")[1]


@pytest.fixture(scope="module")
def data_owner(platform_server: LocalServer) -> str:
    return new_user(platform_server, admin_token(platform_server), "DataOwner", "input")[1]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (f'{{"user_id": "{LONE}", "password": "some password"}}', "user_id"),
        (f'{{"user_id": "someone", "password": "pass{LONE}word"}}', "password"),
        (f'{{"user_id": "someone", "password": "some password", "{LONE}": 1}}', "a key of the body"),
    ],
)
def test_lone_surrogates_at_login_are_named_before_any_authentication(
    platform_server: LocalServer, body: str, field: str
) -> None:
    assert field in error(post(platform_server, "user_login", body.encode()), 400, "invalid_request")


@pytest.mark.parametrize(
    ("method", "body", "field"),
    [
        ("register_function", f'{{"name": "f{LONE}"}}', "name"),
        (
            "register_function",
            f'{{"name": "f", "arguments": [{{"key": "k", "default_value": "{LONE}"}}]}}',
            "arguments[0].default_value",
        ),
        (
            "create_task",
            f'{{"function_id": "f", "function_arguments": {{"{LONE}": "v"}}}}',
            "a key of function_arguments",
        ),
        ("register_function", f'{{"name": "f", "limits": {{"fuel": {2**64}}}}}', "limits.fuel"),
        ("register_function", f'{{"name": "f", "limits": {{"fuel": {2**63}}}}}', "limits.fuel"),
        ("register_function", f'{{"name": "f", "usage_quota": {-(2**63) - 1}}}', "usage_quota"),
        ("register_function", '{"name": "f", "limits": {"timeout_seconds": NaN}}', "limits.timeout_seconds"),
        ("create_task", f'{{"function_id": "f", "function_arguments": {{"n": {2**70}}}}}', "function_arguments.n"),
        ("query_audit_logs", f'{{"limit": {2**63}}}', "limit"),
        ("get_task_result", '{"task_id": "t", "timeout": Infinity}', "timeout"),
    ],
)
def test_unstorable_values_are_named(
    platform_server: LocalServer, owner: str, data_owner: str, method: str, body: str, field: str
) -> None:
    token = owner if method == "register_function" else data_owner
    if method == "query_audit_logs":
        token = admin_token(platform_server)
    message = error(post(platform_server, method, body.encode(), token), 400, "invalid_request")
    assert field in message, message


@pytest.mark.parametrize(
    "body",
    [
        b'{"user_id": "\xff\xfe", "password": "some password"}',  # not UTF-8
        b'{"user_id": ' + b"[" * 100_000 + b"]" * 100_000 + b"}",  # nested deeper than any parser's stack
        b'{"user_id": "a", "password": "some password"' + b', "x": 1' * 1000 + b"}",  # many (repeated) fields
    ],
)
def test_malformed_login_bodies_are_400(platform_server: LocalServer, body: bytes) -> None:
    error(post(platform_server, "user_login", body), 400)


def test_values_that_would_only_fail_at_run_time_are_refused_at_registration(
    platform_server: LocalServer, owner: str, data_owner: str
) -> None:
    payload = base64.b64encode(bytes(wasmtime.wat2wasm(RETURN_7))).decode()
    nul_default = [{"key": "k", "default_value": "a\u0000b"}]
    message = error(
        post(platform_server, "register_function", {"name": "f", "payload": payload, "arguments": nul_default}, owner),
        400,
        "invalid_text",
    )
    assert message.startswith("arguments[0].default_value contains a NUL character")
    output = {"url": "https://files.example/out.enc", "schema": "raw", "key": "", "iv": ""}
    assert "raw" in error(post(platform_server, "register_output_file", output, data_owner), 422, "invalid_crypto")
    # The largest fuel that fits is accepted and kept exactly.
    function_id = wat_function(platform_server, owner, RETURN_7, limits={"fuel": 2**63 - 1})
    function = ok(post(platform_server, "get_function", {"function_id": function_id}, owner))
    assert function["limits"]["fuel"] == 2**63 - 1
    assert json.dumps(function)  # the answer itself is plain JSON
