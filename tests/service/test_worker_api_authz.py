"""Who may call the worker endpoints, cell by cell, against a real ``teabox serve``.

Every worker endpoint × {no token, a user's token, another worker's token, a
revoked token, the right token but not the holder (another worker name, another
attempt), a lapsed lease}; the holder's own calls; and worker tokens refused
by every user endpoint.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from support.payloads import concat_payload
from support.remote_workers import admin, hosted_task, issue_worker_token, wait_until

from teabox.client import Client, OwnedFile
from teabox.testing.local_server import LocalServer

# Its tests share module-scoped servers: one pytest-xdist process runs them all, so each starts once.
pytestmark = pytest.mark.xdist_group("worker_api_authz")

WORKER = "/api/v1/worker"


@dataclass
class Held:
    """A task claimed by hand with the right token under worker name ``w1``, and the other credentials."""

    server: LocalServer
    http: httpx.Client
    admin: Client
    task: dict[str, Any]
    given: OwnedFile
    taken: OwnedFile
    payload: bytes
    tokens: dict[str, str | None]  # credential name -> bearer token (None: no header)

    def headers(self, who: str) -> dict[str, str]:
        token = self.tokens[who]
        return {} if token is None else {"authorization": f"Bearer {token}"}

    def run(self, worker: str = "w1", attempt: int | None = None) -> dict[str, Any]:
        return {"worker": worker, "task_id": self.task["task_id"], "attempt": attempt or self.task["attempt"]}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalServer]:
    with LocalServer(tmp_path_factory.mktemp("platform"), workers=0) as started:
        yield started


@pytest.fixture(scope="module")
def held(server: LocalServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Held]:
    right, other, revoked = (issue_worker_token(server, name) for name in ("right", "other", "revoked"))
    revoked_id = httpx.get(f"{server.url}{WORKER}/whoami", headers={"authorization": f"Bearer {revoked}"}).json()[
        "token_id"
    ]
    admin(server, "worker-token", "revoke", revoked_id)
    with Client(server.url) as owner, httpx.Client(base_url=server.url, timeout=60.0) as http:
        user_token = owner.user_login(server.admin_id, server.admin_password)
        payload = concat_payload(["in"], ["out"])
        task_id, given, taken = hosted_task(owner, payload, b"secret rows", tmp_path_factory.mktemp("files"))
        claimed = http.post(
            f"{WORKER}/claim",
            json={"worker": "w1", "lease_seconds": 300.0},
            headers={"authorization": f"Bearer {right}"},
        )
        assert claimed.status_code == 200, claimed.text
        task = claimed.json()["task"]
        assert task["task_id"] == task_id
        tokens = {"none": None, "user": str(user_token), "other": other, "revoked": revoked, "right": right}
        yield Held(server, http, owner, task, given, taken, payload, tokens)


def _call(held: Held, endpoint: str, who: str, run: dict[str, Any]) -> httpx.Response:
    """One call to ``endpoint`` as ``who`` naming ``run``."""
    headers = held.headers(who)
    if endpoint == "payload":
        return held.http.get(f"{WORKER}/payload", params=run, headers=headers)
    if endpoint == "read_file":
        return held.http.get(f"{WORKER}/file", params=run | {"url": held.given.url}, headers=headers)
    if endpoint == "write_file":
        return held.http.put(f"{WORKER}/file", params=run | {"url": held.taken.url}, content=b"forged", headers=headers)
    if endpoint == "unlink_file":
        return held.http.delete(f"{WORKER}/file", params=run | {"url": held.taken.url}, headers=headers)
    body = dict(run)
    if endpoint == "finish":
        body["outcome"] = {"return_value": "forged", "tags": {"out": "00" * 16}, "failure_kind": None, "reason": None}
    return held.http.post(f"{WORKER}/{endpoint}", json=body, headers=headers)


RUN_ENDPOINTS = ["heartbeat", "begin_writes", "finish", "payload", "read_file", "write_file", "unlink_file"]


def _task_unchanged(held: Held) -> None:
    """Still Running under the right worker's run: its heartbeat is answered, nothing was recorded."""
    beat = held.http.post(f"{WORKER}/heartbeat", json=held.run(), headers=held.headers("right"))
    assert beat.json() == {"held": True}
    task = held.admin.get_task(held.task["task_id"])
    assert (task.status, task.result) == ("Running", None)
    assert held.admin.get_output_file(held.taken.data_id).cmac is None


@pytest.mark.parametrize("who", ["none", "user", "revoked"])
@pytest.mark.parametrize("endpoint", ["whoami", "claim", *RUN_ENDPOINTS])
def test_calls_without_a_live_worker_token_are_refused_401(held: Held, endpoint: str, who: str) -> None:
    if endpoint == "whoami":
        answer = held.http.get(f"{WORKER}/whoami", headers=held.headers(who))
    elif endpoint == "claim":
        answer = held.http.post(
            f"{WORKER}/claim", json={"worker": "w9", "lease_seconds": 5.0}, headers=held.headers(who)
        )
    else:
        answer = _call(held, endpoint, who, held.run())
    assert answer.status_code == 401, answer.text
    assert answer.json()["error"]["code"] in ("unauthenticated", "invalid_worker_token")
    _task_unchanged(held)


NOT_HOLDER = {
    "other worker's token": ("other", {}),
    "right token, another worker name": ("right", {"worker": "w2"}),
    "right token, another attempt": ("right", {"attempt": 2}),
}


@pytest.mark.parametrize("case", list(NOT_HOLDER))
@pytest.mark.parametrize("endpoint", RUN_ENDPOINTS)
def test_a_worker_that_does_not_hold_the_task_reaches_nothing_of_it(held: Held, endpoint: str, case: str) -> None:
    who, change = NOT_HOLDER[case]
    answer = _call(held, endpoint, who, held.run(**change))
    if endpoint == "heartbeat":
        assert answer.json() == {"held": False}
    elif endpoint == "begin_writes":
        assert "no longer holds" in answer.json()["refused"]
    elif endpoint == "finish":
        assert answer.json() == {"recorded": False}
    else:
        assert answer.status_code == 403, answer.text
        assert answer.json()["error"]["code"] == "not_holder"
    _task_unchanged(held)


@pytest.mark.parametrize(
    "operation, body",
    [
        ("list_users", {}),
        ("list_files", {}),
        ("list_tasks", {}),
        ("get_current_user", {}),
        ("query_audit_logs", {}),
        ("get_task", {"task_id": "?"}),
        ("get_input_file", {"data_id": "?"}),
    ],
)
def test_a_worker_token_opens_no_user_endpoint(held: Held, operation: str, body: dict[str, Any]) -> None:
    body = {key: held.task["task_id"] if value == "?" and key == "task_id" else value for key, value in body.items()}
    if body.get("data_id") == "?":
        body["data_id"] = held.given.data_id
    answer = held.http.post(f"/api/v1/{operation}", json=body, headers=held.headers("right"))
    assert answer.status_code == 401, answer.text
    download = held.http.get("/api/v1/download_file", params={"url": held.given.url}, headers=held.headers("right"))
    assert download.status_code == 401


def test_the_holder_reaches_its_task_and_nothing_else(held: Held, tmp_path: Path) -> None:
    right = held.headers("right")
    payload = _call(held, "payload", "right", held.run())
    assert payload.content == held.payload
    assert hashlib.sha256(payload.content).hexdigest() == held.task["payload_sha256"]
    # The claim carried the files' keys; the input's stream is the uploaded ciphertext.
    (given,) = held.task["inputs"]
    assert (given["crypto"]["key"], given["cmac"]) == (held.given.crypto.key.hex(), held.given.cmac.hex())
    held.admin.download_file(held.given.url, tmp_path / "uploaded")
    assert _call(held, "read_file", "right", held.run()).content == (tmp_path / "uploaded").read_bytes()
    # An output is not readable, and nothing but this task's files is reachable.
    as_input = held.http.get(f"{WORKER}/file", params=held.run() | {"url": held.taken.url}, headers=right)
    assert (as_input.status_code, as_input.json()["error"]["code"]) == (403, "not_bound")
    elsewhere = held.admin.upload_file(_file(tmp_path / "other.bin", b"another user's file"))
    foreign = held.http.get(f"{WORKER}/file", params=held.run() | {"url": elsewhere.url}, headers=right)
    assert (foreign.status_code, foreign.json()["error"]["code"]) == (403, "not_bound")
    # Outputs are written only once their write has begun, and then linked, unlinked and linked again.
    early = _call(held, "write_file", "right", held.run())
    assert (early.status_code, early.json()["error"]["code"]) == (403, "write_not_begun")
    begun = held.http.post(f"{WORKER}/begin_writes", json=held.run(), headers=right)
    assert begun.json() == {"refused": None}
    written = _call(held, "write_file", "right", held.run())
    assert written.json() == {"sha256": hashlib.sha256(b"forged").hexdigest(), "size": 6}
    assert _call(held, "unlink_file", "right", held.run()).status_code == 200
    assert _call(held, "write_file", "right", held.run()).status_code == 200
    # The finish is recorded once; sent again (its answer lost), it is answered "recorded" again.
    assert _call(held, "finish", "right", held.run()).json() == {"recorded": True}
    assert _call(held, "finish", "right", held.run()).json() == {"recorded": True}
    assert held.admin.get_output_file(held.taken.data_id).cmac == bytes(16)
    # Ended: the run holds nothing any more.
    after = _call(held, "payload", "right", held.run())
    assert (after.status_code, after.json()["error"]["code"]) == (403, "not_holder")


def test_a_lapsed_lease_reaches_nothing(held: Held, tmp_path: Path) -> None:
    task_id, _, _ = hosted_task(held.admin, held.payload, b"rows", tmp_path)
    right = held.headers("right")
    claimed = held.http.post(f"{WORKER}/claim", json={"worker": "w3", "lease_seconds": 1.0}, headers=right)
    task = claimed.json()["task"]
    assert task["task_id"] == task_id
    run = {"worker": "w3", "task_id": task_id, "attempt": task["attempt"]}
    try:
        # No heartbeat: the lease runs out, and the service's sweep puts the task back in the queue.
        wait_until(lambda: held.admin.get_task(task_id).status == "Staged", "the lease lapses")
        for endpoint in ("payload", "read_file"):
            answer = held.http.get(
                f"{WORKER}/{'file' if endpoint == 'read_file' else 'payload'}",
                params=run | ({"url": held.given.url} if endpoint == "read_file" else {}),
                headers=right,
            )
            assert (answer.status_code, answer.json()["error"]["code"]) == (403, "not_holder")
        assert held.http.post(f"{WORKER}/heartbeat", json=run, headers=right).json() == {"held": False}
    finally:
        held.admin.cancel_task(task_id)


@pytest.mark.parametrize(
    "path, body, code",
    [
        ("claim", {"worker": "w/1", "lease_seconds": 3.0}, "invalid_request"),
        ("claim", {"worker": "w1", "lease_seconds": 3.0, "wait": 3600}, "invalid_request"),
        ("claim", {"worker": "w1", "lease_seconds": "3"}, "invalid_request"),
        ("heartbeat", {"worker": "w1", "task_id": "t", "attempt": 0}, "invalid_request"),
        ("finish", {"worker": "w1", "task_id": "t", "attempt": 1, "outcome": {"tags": {"o": "zz"}}}, "invalid_request"),
        ("heartbeat", [1, 2], "invalid_request"),
    ],
)
def test_bad_worker_bodies_are_refused_400_naming_the_field(held: Held, path: str, body: Any, code: str) -> None:
    answer = held.http.post(f"{WORKER}/{path}", json=body, headers=held.headers("right"))
    assert answer.status_code == 400, answer.text
    assert answer.json()["error"]["code"] == code


def _file(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


def test_worker_calls_are_audited_when_refused_and_only_then(held: Held) -> None:
    assert _call(held, "heartbeat", "none", held.run()).status_code == 401
    assert _call(held, "heartbeat", "right", held.run()).status_code == 200
    answer = held.http.post(
        "/api/v1/query_audit_logs", json={"action": "worker/heartbeat", "limit": 1000}, headers=held.headers("user")
    )
    outcomes = {entry["outcome"] for entry in answer.json()["logs"]}
    assert "unauthenticated" in outcomes and "ok" not in outcomes


def test_the_per_user_cap_on_running_tasks_is_the_api_servers(tmp_path: Path) -> None:
    with LocalServer(tmp_path / "capped", workers=0, extra_args=("--max-running-per-user", "1")) as capped:
        token = issue_worker_token(capped, "capped")
        with Client(capped.url) as owner:
            owner.user_login(capped.admin_id, capped.admin_password)
            payload = concat_payload(["in"], ["out"])
            first, _, _ = hosted_task(owner, payload, b"one", tmp_path)
            second, _, _ = hosted_task(owner, payload, b"two", tmp_path)
            headers = {"authorization": f"Bearer {token}"}
            with httpx.Client(base_url=capped.url, headers=headers, timeout=60.0) as http:
                claimed = http.post(f"{WORKER}/claim", json={"worker": "w1", "lease_seconds": 300.0}).json()["task"]
                assert claimed["task_id"] == first
                # The owner has one task running: the second waits, whatever the worker would allow.
                answer = http.post(f"{WORKER}/claim", json={"worker": "w2", "lease_seconds": 300.0})
                assert answer.json() == {"task": None}
            assert owner.get_task(second).status == "Staged"
