"""Talking to a platform over HTTP with httpx (a ``teabox serve`` process, or the app in this process
through the ``httpx.Client`` of :mod:`support.in_process`), and acting as a worker through the queue."""

from __future__ import annotations

import itertools
import os
from pathlib import Path
from typing import Any

import httpx
import wasmtime

from teabox.client import Client
from teabox.platform.staged import Outcome, StagedTask
from teabox.platform.storage import Storage
from teabox.testing.local_server import LocalServer

_ids = itertools.count(1)
PASSWORD = "correct horse battery"
ZERO_KEY = "00" * 16
# The upload limit the platform tests' servers are given, small enough to cross in a test.
MAX_UPLOAD = 64 * 1024


def start_server(data_dir: Path, *extra: str, **options: object) -> LocalServer:
    files = data_dir.parent / f"{data_dir.name}-files"
    files.mkdir(parents=True, exist_ok=True)
    server = LocalServer(
        data_dir,
        workers=0,
        extra_args=("--max-upload-bytes", str(MAX_UPLOAD), "--allow-file-dir", str(files), *extra),
        **options,  # type: ignore[arg-type]
    )
    server.start()
    return server


def unique(prefix: str) -> str:
    return f"{prefix}{os.getpid()}x{next(_ids)}"


def login(server: LocalServer, user_id: str, password: str) -> Client:
    """An SDK client of ``server``, logged in: the caller's to close (a ``with`` block, or the ``closer`` fixture).
    A refused login closes it before the error is raised."""
    client = Client(server.url)
    try:
        client.user_login(user_id, password)
    except BaseException:
        client.close()
        raise
    return client


class ApiError(AssertionError):
    def __init__(self, status: int, body: Any) -> None:
        super().__init__(f"HTTP {status}: {body}")
        self.status, self.body = status, body


class Api:
    """One user's session: ``api.call("create_task", function_id=...)`` returns the JSON answer.

    As a context manager it closes the connection pool it opened, which the sessions it logs in share;
    a pool passed in as ``http`` is its owner's to close."""

    def __init__(
        self, url: str, user_id: str | None = None, token: str | None = None, http: httpx.Client | None = None
    ) -> None:
        self.url, self.user_id, self.token = url, user_id, token
        # One connection pool for a user and the sessions they open: tokens travel per request.
        self.http = http or httpx.Client(base_url=url, timeout=90.0)
        self._owns_http = http is None

    def __enter__(self) -> Api:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        if self._owns_http:
            self.http.close()

    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"} if self.token else {}

    def raw(self, method: str, body: Any) -> httpx.Response:
        return self.http.post(f"/api/v1/{method}", json=body, headers=self.headers())

    def upload(self, method: str, content: Any, **params: str) -> httpx.Response:
        """A raw-body upload (``upload_file``, ``upload_payload``) with this session's token."""
        return self.http.post(f"/api/v1/{method}", params=params, content=content, headers=self.headers())

    def download(self, method: str, **params: str) -> httpx.Response:
        return self.http.get(f"/api/v1/{method}", params=params, headers=self.headers())

    def call(self, method: str, **body: Any) -> dict[str, Any]:
        response = self.raw(method, body)
        if response.status_code != 200:
            raise ApiError(response.status_code, response.json())
        return response.json()

    def refused(self, method: str, status: int, code: str | None = None, **body: Any) -> str:
        """Call and assert the refusal's status (and code); returns the message."""
        response = self.raw(method, body)
        assert response.status_code == status, (
            f"{method}: expected {status}, got {response.status_code} {response.text}"
        )
        error = response.json()["error"]
        assert error["message"], "every refusal names what was wrong"
        if code is not None:
            assert error["code"] == code, f"{method}: expected code {code}, got {error}"
        return error["message"]

    def login(self, user_id: str, password: str = PASSWORD) -> Api:
        session = Api(self.url, user_id, http=self.http)
        session._owns_http = self._owns_http  # the session closes the pool its opener would have
        session.token = session.call("user_login", user_id=user_id, password=password)["token"]
        return session

    def new_user(self, role: str, attribute: str = "", prefix: str = "u") -> Api:
        """Register a user with this session's rights and log them in."""
        user_id = unique(prefix)
        self.call("user_register", user_id=user_id, password=PASSWORD, role=role, attribute=attribute)
        return self.login(user_id)


def wat_payload(return_value: int = 7) -> bytes:
    return bytes(
        wasmtime.wat2wasm(
            f'(module (memory (export "memory") 1) (func (export "entrypoint") (param i32 i32) (result i32) (i32.const {return_value})))'
        )
    )


def function_body(payload: bytes, **fields: Any) -> dict[str, Any]:
    import base64

    body: dict[str, Any] = {
        "name": "f",
        "description": "test",
        "executor_type": "wamr",
        "payload": base64.b64encode(payload).decode(),
    }
    body.update(fields)
    return body


def register_function(owner: Api, **fields: Any) -> str:
    return owner.call("register_function", **function_body(wat_payload(), **fields))["function_id"]


def input_file(owner: Api, name: str = "in.enc") -> str:
    return owner.call(
        "register_input_file",
        url=f"https://files.example/{name}",
        schema="teaclave-file-128",
        key=ZERO_KEY,
        iv="",
        cmac="11" * 16,
    )["data_id"]


def output_file(owner: Api, name: str = "out.enc") -> str:
    return owner.call(
        "register_output_file", url=f"https://files.example/{name}", schema="teaclave-file-128", key=ZERO_KEY, iv=""
    )["data_id"]


class FakeWorker:
    """The test process acting as a worker through the real queue (no payload runs)."""

    def __init__(self, storage: Storage, worker_id: str = "test-worker") -> None:
        self.queue = storage.queue
        self.worker_id = worker_id

    def claim(self, lease: float = 30.0) -> StagedTask:
        task = self.queue.claim(self.worker_id, lease)
        assert task is not None, "a staged task was expected"
        return task

    def finish(self, task: StagedTask, outcome: Outcome) -> bool:
        return self.queue.finish(task.task_id, self.worker_id, task.attempt, outcome)
