"""Calls to a real ``teabox serve`` as an attacker makes them: raw bodies, raw sockets, any status."""

from __future__ import annotations

import base64
import itertools
import os
import socket
from contextlib import ExitStack
from typing import Any

import httpx
import wasmtime

from teabox.testing.local_server import LocalServer

PASSWORD = "correct horse battery"
_ids = itertools.count(1)


def unique(prefix: str) -> str:
    return f"{prefix}-{os.getpid()}-{next(_ids)}"


def post(server: LocalServer, method: str, body: Any = None, token: str | None = None, **kwargs: Any) -> httpx.Response:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    if isinstance(body, bytes):
        kwargs["content"] = body
    elif body is not None:
        kwargs["json"] = body
    return httpx.post(f"{server.url}/api/v1/{method}", headers=headers, timeout=120, **kwargs)


def ok(response: httpx.Response) -> dict[str, Any]:
    assert response.status_code == 200, f"{response.status_code} {response.text}"
    answer: dict[str, Any] = response.json()
    return answer


def error(response: httpx.Response, status: int, code: str | None = None) -> str:
    """Assert a refusal's status (and code); returns its message."""
    assert response.status_code == status, f"expected {status}, got {response.status_code} {response.text}"
    refusal = response.json()["error"]
    assert refusal["message"]
    if code is not None:
        assert refusal["code"] == code, refusal
    return str(refusal["message"])


def login(server: LocalServer, user_id: str, password: str = PASSWORD) -> str:
    return str(ok(post(server, "user_login", {"user_id": user_id, "password": password}))["token"])


def admin_token(server: LocalServer) -> str:
    return login(server, server.admin_id, server.admin_password)


def new_user(server: LocalServer, admin: str, role: str, attribute: str = "") -> tuple[str, str]:
    """Register a user; returns (user id, token)."""
    user_id = unique(role.lower())
    body = {"user_id": user_id, "password": PASSWORD, "role": role, "attribute": attribute}
    ok(post(server, "user_register", body, admin))
    return user_id, login(server, user_id)


def wat_function(server: LocalServer, owner: str, wat: str, **fields: Any) -> str:
    payload = base64.b64encode(bytes(wasmtime.wat2wasm(wat))).decode()
    body = {"name": "f", "payload": payload, **fields}
    return str(ok(post(server, "register_function", body, owner))["function_id"])


RETURN_7 = (
    '(module (memory (export "memory") 1) (func (export "entrypoint") (param i32 i32) (result i32) (i32.const 7)))'
)


def audit_entries(server: LocalServer, admin: str, **query: Any) -> list[dict[str, Any]]:
    logs: list[dict[str, Any]] = ok(post(server, "query_audit_logs", {"limit": 10000, **query}, admin))["logs"]
    return logs


def raw_connection(closer: ExitStack, server: LocalServer, first_bytes: bytes = b"") -> socket.socket:
    """A TCP connection to the server that has sent ``first_bytes`` (and a generous timeout for reads);
    ``closer`` closes it."""
    connection = closer.enter_context(socket.create_connection(("127.0.0.1", server.port), timeout=60))
    if first_bytes:
        connection.sendall(first_bytes)
    return connection


def read_answer(connection: socket.socket) -> bytes:
    """Everything the server sends until it closes the connection (b"" if it closed without a word)."""
    received = b""
    try:
        while chunk := connection.recv(65536):
            received += chunk
    except ConnectionResetError:
        pass
    return received
