"""Finding 16: every call leaves an audit entry, also when it is refused before any operation runs or fails.

Before the fix, calls refused with 401 (no token, a forged one) and calls
that failed with 500 left no entry. Entries of calls refused before the
caller is known carry no user id but the client's address.
"""

from __future__ import annotations

import base64
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import wasmtime
from support.service_calls import RETURN_7, admin_token, audit_entries, error, new_user, post, unique

from teabox.testing.local_server import LocalServer


def entries_for(server: LocalServer, admin: str, action: str, outcome: str) -> list[dict[str, Any]]:
    return [e for e in audit_entries(server, admin, action=action) if e["outcome"] == outcome]


def test_calls_refused_before_any_operation_are_audited(platform_server: LocalServer) -> None:
    server = platform_server
    admin = admin_token(server)
    marker = unique("audit")  # names this test's calls among everything the shared server audited
    cases = [
        ("get_task", {"task_id": marker}, None, 401, "unauthenticated"),
        ("get_task", {"task_id": marker}, f"forged-{marker}", 401, "invalid_token"),
        ("get_task", f'{{"task_id": "{marker}"'.encode(), admin, 400, "malformed_json"),
        ("get_task", {"task_id": marker, "extra": marker}, admin, 400, "invalid_request"),
        (f"no_such_method_{marker}", {}, admin, 404, "not_found"),
        ("create_task", b'{"function_id": "' + b"x" * (1024 * 1024) + b'"}', admin, 413, "too_large"),
    ]
    for method, body, token, status, code in cases:
        before = len(entries_for(server, admin, method, code))
        error(post(server, method, body, token), status, code)
        after = entries_for(server, admin, method, code)
        assert len(after) == before + 1, (method, code)
        assert "client 127.0.0.1" in after[0]["message"]
    # A wrong password is audited by the login itself, under the user id it tried.
    error(post(server, "user_login", {"user_id": marker, "password": "wrong password"}), 401, "invalid_credentials")
    assert next(e["user_id"] for e in entries_for(server, admin, "user_login", "invalid_credentials")) == marker


@pytest.fixture
def broken_server(tmp_path: Path) -> Iterator[LocalServer]:
    """A server whose blob store cannot take new files: a directory it writes into has become a file."""
    running = LocalServer(tmp_path / "data", workers=0)
    running.start()
    scratch = running.data_dir / "blobs" / "tmp"
    shutil.rmtree(scratch)
    scratch.write_bytes(b"not a directory")
    yield running
    running.stop()


def test_calls_that_fail_with_500_are_audited(broken_server: LocalServer) -> None:
    server = broken_server
    admin = admin_token(server)
    owner_id, owner = new_user(server, admin, "FunctionOwner")
    _, me = new_user(server, admin, "DataOwner", "broken")
    # Failing outside any operation (streaming an upload) and inside one (storing an inline payload).
    upload = httpx.post(
        f"{server.url}/api/v1/upload_file",
        params={"name": "a.enc"},
        content=b"x",
        headers={"Authorization": f"Bearer {me}"},
    )
    error(upload, 500, "internal_error")
    payload = base64.b64encode(bytes(wasmtime.wat2wasm(RETURN_7))).decode()
    error(post(server, "register_function", {"name": "f", "payload": payload}, owner), 500, "internal_error")
    assert entries_for(server, admin, "upload_file", "internal_error")
    [failed] = entries_for(server, admin, "register_function", "internal_error")
    assert failed["user_id"] == owner_id
