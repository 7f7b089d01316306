"""Finding 13: long-polls write nothing while they wait, and their number is capped.

Before the fix each get_task_result wrote its audit entry inside a write
transaction before waiting, so thousands of waiting clients made thousands of
writes that every other request queued behind. Now a wait is audited once,
after it ends, and waits beyond the caps are refused at once: 429 beyond the
per-user cap, 503 beyond the service's, both with Retry-After.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from support.service_calls import RETURN_7, admin_token, audit_entries, new_user, ok, post, wat_function

from teabox.testing.local_server import LocalServer

PER_USER, IN_ALL = 3, 5
PROBES = 200  # bounds the loops that wait for the waits to be in place


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalServer]:
    caps = ("--max-waits", str(IN_ALL), "--max-waits-per-user", str(PER_USER))
    running = LocalServer(Path(tmp_path_factory.mktemp("longpoll")), workers=0, extra_args=caps)
    running.start()
    yield running
    running.stop()


def probe_until(server: LocalServer, token: str, task_id: str, status: int) -> httpx.Response:
    """Short waits until one is refused with ``status`` (the long waits are then all in place)."""
    for _ in range(PROBES):
        answer = post(server, "get_task_result", {"task_id": task_id, "timeout": 0.2}, token)
        if answer.status_code == status:
            return answer
        assert answer.status_code == 200, answer.text
    raise AssertionError(f"no {status} after {PROBES} probes")


def test_waits_write_nothing_and_are_capped(server: LocalServer) -> None:
    admin = admin_token(server)
    _, owner = new_user(server, admin, "FunctionOwner")
    function_id = wat_function(server, owner, RETURN_7)
    _, alice = new_user(server, admin, "DataOwner", "poll")
    _, bob = new_user(server, admin, "DataOwner", "poll")
    _, carol = new_user(server, admin, "DataOwner", "poll")

    def new_task(token: str) -> str:
        return str(ok(post(server, "create_task", {"function_id": function_id}, token))["task_id"])

    awaited, probed, bobs, carols = new_task(alice), new_task(alice), new_task(bob), new_task(carol)
    answers: list[dict[str, Any]] = []

    def wait(token: str, task_id: str) -> None:
        for _ in range(PROBES):  # a probe may hold a place for a moment: try again, as a client would
            answer = post(server, "get_task_result", {"task_id": task_id, "timeout": 60}, token)
            if answer.status_code not in (429, 503):
                answers.append(ok(answer))
                return

    waits = [threading.Thread(target=wait, args=(alice, awaited)) for _ in range(PER_USER)]
    waits += [threading.Thread(target=wait, args=(bob, bobs)) for _ in range(IN_ALL - PER_USER)]
    for thread in waits[:PER_USER]:
        thread.start()
    try:
        refused = probe_until(server, alice, probed, 429)
        assert refused.json()["error"]["code"] == "too_many_waits" and int(refused.headers["Retry-After"]) >= 1
        for thread in waits[PER_USER:]:
            thread.start()
        refused = probe_until(server, carol, carols, 503)
        assert refused.json()["error"]["code"] == "too_many_waits" and int(refused.headers["Retry-After"]) >= 1

        # Everyone waits, and nothing of it has been written; other calls, writes too, go through meanwhile.
        assert not [e for e in audit_entries(server, admin, action="get_task_result") if e["object_id"] == awaited]
        ok(post(server, "get_current_user", {}, carol))
        ok(post(server, "reserve_file", {"name": "while-waiting.enc"}, carol))
        ok(post(server, "get_task_result", {"task_id": carols, "timeout": 0}, carol))  # no wait: never capped
    finally:
        for task_id, token in ((awaited, alice), (bobs, bob)):
            ok(post(server, "cancel_task", {"task_id": task_id}, token))
        for thread in waits:
            thread.join()
    assert len(answers) == IN_ALL and all(answer["done"] for answer in answers)
    # Each wait is audited once, after it ended.
    entries = [e for e in audit_entries(server, admin, action="get_task_result") if e["object_id"] == awaited]
    assert len(entries) == PER_USER and {e["outcome"] for e in entries} == {"ok"}
