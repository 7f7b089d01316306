"""Finding 9: an unauthenticated login flood must not fail other clients nor the running task.

Before the fix argon2 ran inside the write transaction and the endpoints
ran database calls on the event loop: wrong-password logins from a few
threads gave other clients 500 "database is locked" and made a running task
fail as ``worker_lost``. Here a flood of wrong-password logins (each one
hashed: the server's login limits are set out of reach) runs for as long as a
task runs; the task must end Finished on its first attempt, and every other
client's call must succeed.
"""

from __future__ import annotations

import sqlite3
import threading
from collections import Counter
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path

import httpx
import pytest
from support.service_calls import (
    PASSWORD,
    admin_token,
    error,
    login,
    new_user,
    ok,
    post,
    raw_connection,
    read_answer,
    wat_function,
)

from teabox.testing.local_server import LocalServer

# Its tests share module-scoped servers: one pytest-xdist process runs them all, so each starts once.
pytestmark = pytest.mark.xdist_group("service_flood")

FLOODERS = 4
MAX_GUESSES = 40  # per flooder: bounds the test whatever the machine's speed
SPIN = """(module (memory (export "memory") 1)
  (func (export "entrypoint") (param i32 i32) (result i32) (local $i i32)
    (loop $spin
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br_if $spin (i32.ne (local.get $i) (i32.const 200000000))))
    (i32.const 0)))"""


@pytest.fixture(scope="module")
def flood_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalServer]:
    out_of_reach = ("--login-failures-per-user", "1000000", "--login-failures-per-address", "1000000")
    server = LocalServer(Path(tmp_path_factory.mktemp("flood")), workers=1, extra_args=out_of_reach)
    server.start()
    yield server
    server.stop()


def test_a_login_flood_neither_fails_other_clients_nor_the_running_task(flood_server: LocalServer) -> None:
    server = flood_server
    admin = admin_token(server)
    _, owner = new_user(server, admin, "FunctionOwner")
    victim_id, _ = new_user(server, admin, "DataOwner", "flood")
    _, me = new_user(server, admin, "DataOwner", "flood")
    function_id = wat_function(server, owner, SPIN)
    task_id = ok(post(server, "create_task", {"function_id": function_id}, me))["task_id"]

    ended = threading.Event()
    flood: Counter[int] = Counter()

    def guess() -> None:
        with httpx.Client(base_url=server.url, timeout=120) as client:
            for attempt in range(MAX_GUESSES):
                if ended.is_set() and attempt >= 3:
                    return
                body = {"user_id": victim_id, "password": f"wrong guess {attempt}"}
                flood[client.post("/api/v1/user_login", json=body).status_code] += 1

    flooders = [threading.Thread(target=guess) for _ in range(FLOODERS)]
    for flooder in flooders:
        flooder.start()
    others: Counter[int] = Counter()
    try:
        ok(post(server, "invoke_task", {"task_id": task_id}, me))
        while not ended.is_set():
            # Another client keeps working meanwhile: short polls, reads and a login of its own.
            answer = post(server, "get_task_result", {"task_id": task_id, "timeout": 1}, me)
            others[answer.status_code] += 1
            if answer.status_code == 200 and answer.json()["done"]:
                ended.set()
            others[post(server, "get_current_user", {}, me).status_code] += 1
            others[post(server, "list_tasks", {}, me).status_code] += 1
    finally:
        ended.set()
        for flooder in flooders:
            flooder.join()

    assert set(flood) == {401}, f"every guess is refused as a wrong password, never a 500: {flood}"
    assert set(others) == {200}, f"the other client was never refused nor failed: {others}"
    task = ok(post(server, "get_task", {"task_id": task_id}, me))
    assert (task["status"], task["attempt"]) == ("Finished", 1), task
    assert login(server, victim_id, PASSWORD)  # the victim still logs in (the limits were out of reach)


@pytest.fixture(scope="module")
def limited_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalServer]:
    limits = ("--login-failures-per-user", "3", "--login-failures-per-address", "6")
    server = LocalServer(Path(tmp_path_factory.mktemp("limited")), workers=0, extra_args=limits)
    server.start()
    yield server
    server.stop()


def test_failed_logins_are_limited_per_user_id_and_per_address(limited_server: LocalServer) -> None:
    server = limited_server
    admin = admin_token(server)
    victim, _ = new_user(server, admin, "DataOwner", "limits")
    for attempt in range(3):
        error(post(server, "user_login", {"user_id": victim, "password": f"guess {attempt}"}), 401)
    for password in ("guess 4", PASSWORD):  # once the id is locked even the right password waits
        refused = post(server, "user_login", {"user_id": victim, "password": password})
        assert "this user id" in error(refused, 429, "too_many_login_failures")
        assert int(refused.headers["Retry-After"]) >= 1
    # Other ids from the same address may still log in, until the address has used up its failures too.
    other, _ = new_user(server, admin, "DataOwner", "limits")
    assert login(server, other)
    for attempt in range(3):
        error(post(server, "user_login", {"user_id": f"nobody-{attempt}", "password": "some guess"}), 401)
    refused = post(server, "user_login", {"user_id": other, "password": PASSWORD})
    assert "your address" in error(refused, 429, "too_many_login_failures")
    # Every refusal is audited, under the user id it was for.
    logs = ok(post(server, "query_audit_logs", {"action": "user_login", "limit": 100}, admin))["logs"]
    refusals = [e["user_id"] for e in logs if e["outcome"] == "too_many_login_failures"]
    assert sorted(refusals) == sorted([victim, victim, other])


def test_a_call_waiting_for_the_database_does_not_stop_the_service(
    flood_server: LocalServer, closer: ExitStack
) -> None:
    """Another process holds the database's write lock: a call that needs it waits in its thread, and the
    service keeps answering meanwhile. Before the fix the call waited on the event loop, so nothing was
    answered until it failed with 500 "database is locked"."""
    server = flood_server
    _, me = new_user(server, admin_token(server), "DataOwner", "locked")
    body = b'{"name": "locked.enc"}'
    request = (
        f"POST /api/v1/reserve_file HTTP/1.1\r\nHost: teabox\r\nAuthorization: Bearer {me}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\nConnection: close\r\n\r\n"
    ).encode() + body
    holder = sqlite3.connect(server.data_dir / "teabox.db", isolation_level=None)
    try:
        holder.execute("BEGIN IMMEDIATE")
        waiting = raw_connection(closer, server, request)
        assert httpx.get(f"{server.url}/api/v1/health", timeout=120).status_code == 200
        holder.execute("ROLLBACK")
        answer = read_answer(waiting)
    finally:
        holder.close()
    assert answer.startswith(b"HTTP/1.1 200"), answer
