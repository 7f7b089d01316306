"""Building blocks for the worker tests: payloads from WebAssembly text, encrypted files, staged tasks."""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from support.payloads import concat_payload, endless_payload, spin_payload  # noqa: F401 - the worker tests' payloads
from teabox.executor import Executor, RunResult
from teabox.formats import CryptoInfo, encrypt
from teabox.platform.context import Actor
from teabox.platform.core import Platform
from teabox.platform.egress import EgressPolicy
from teabox.platform.models import Task
from teabox.platform.staged import (
    CryptoSpec,
    StagedInput,
    StagedOutput,
    StagedTask,
    TaskLimits,
)
from teabox.worker.fetch import Transfers
from teabox.worker.payloads import PayloadCache
from teabox.worker.run_task import WorkerContext
from teabox.worker.staging import WorkerStaging

DEADLINE = 60.0  # generous: tests wait for events, they do not time them
# The test file servers listen on loopback, which the egress policy refuses unless allowed.
LOCAL_SERVERS = EgressPolicy.from_texts(["127.0.0.1"])


class CountingExecutor(Executor):
    """The real executor, counting its runs, to prove that a payload never started."""

    def __init__(self, cache_dir: Path) -> None:
        super().__init__(cache_dir)
        self.runs = 0

    def run(self, *args, **kwargs) -> RunResult:  # type: ignore[no-untyped-def]
        self.runs += 1
        return super().run(*args, **kwargs)


# make_context(transfers, payloads): the fixture of that name in conftest.py.
MakeContext = Callable[[Transfers, dict[str, bytes]], WorkerContext]


def worker_context(tmp_path: Path, transfers: Transfers, payloads: dict[str, bytes]) -> WorkerContext:
    """A worker's context over ``tmp_path``; the caller closes its staging directory and executor."""
    return WorkerContext(
        staging=WorkerStaging(tmp_path / "data", "test-worker"),
        transfers=transfers,
        payloads=PayloadCache(lambda task: payloads[task.payload_sha256]),
        begin_writes=lambda task: None,  # no platform here: every run may write its outputs
        executor=CountingExecutor(tmp_path / "module-cache"),
    )


def sha(payload: bytes) -> str:
    return hashlib.sha256(payload).hexdigest()


def spec(info: CryptoInfo) -> CryptoSpec:
    return CryptoSpec(info.schema, info.key, info.iv)


def encrypted_file(path: Path, plaintext: bytes, schema: str = "teaclave-file-128") -> tuple[CryptoSpec, bytes]:
    """Write ``plaintext`` encrypted at ``path`` (bound to its basename); returns the crypto and tag."""
    info = CryptoInfo.random(schema)
    plain = path.with_name(path.name + ".plain-source")
    plain.write_bytes(plaintext)
    tag = encrypt(info, plain, path)
    plain.unlink()
    return spec(info), tag


def task_of(
    payload: bytes,
    inputs: list[StagedInput] = (),  # type: ignore[assignment]
    outputs: list[StagedOutput] = (),  # type: ignore[assignment]
    *,
    timeout: float = 10.0,
    task_id: str = "task-test",
) -> StagedTask:
    return StagedTask(
        task_id=task_id,
        attempt=1,
        function_id="function-test",
        payload_sha256=sha(payload),
        arguments={},
        inputs=list(inputs),
        outputs=list(outputs),
        limits=TaskLimits(timeout_seconds=timeout),
    )


@dataclass
class LocalPlatform:
    platform: Platform
    user: Actor  # an admin may call every operation, which keeps these tests about the worker
    files: Path

    def call(self, operation: str, /, **params: Any) -> dict[str, Any]:
        return self.platform.call(operation, self.user, params)

    def function(
        self, payload: bytes, *, inputs: list[str] = (), outputs: list[str] = (), timeout: float = 60.0
    ) -> str:  # type: ignore[assignment]
        return self.call(
            "register_function",
            name="f",
            description="",
            executor_type="wamr",
            public=True,
            payload_id=None,
            payload=payload,
            arguments=[],
            user_allowlist=[],
            usage_quota=None,
            inputs=[{"name": n, "description": "", "optional": False} for n in inputs],
            outputs=[{"name": n, "description": "", "optional": False} for n in outputs],
            limits={"timeout_seconds": timeout},
        )["function_id"]

    def run(self, function_id: str, inputs: dict[str, str] = {}, outputs: dict[str, str] = {}) -> str:  # noqa: B006
        def own(names):
            return [{"data_name": n, "uids": [self.user.user_id]} for n in names]

        task_id = self.call(
            "create_task",
            function_id=function_id,
            function_arguments={},
            executor="wamr",
            inputs_ownership=own(inputs),
            outputs_ownership=own(outputs),
        )["task_id"]
        if inputs or outputs:
            self.call(
                "assign_data_to_task",
                task_id=task_id,
                inputs=[{"data_name": n, "data_id": d} for n, d in inputs.items()],
                outputs=[{"data_name": n, "data_id": d} for n, d in outputs.items()],
            )
        self.call("invoke_task", task_id=task_id)
        return task_id

    def row(self, task_id: str) -> Task:
        with self.platform.storage.database.read() as session:
            return session.get_one(Task, task_id)

    def wait_for(self, task_id: str, condition: Callable[[Task], bool]) -> Task:
        deadline = time.monotonic() + DEADLINE
        while time.monotonic() < deadline:
            row = self.row(task_id)
            if condition(row):
                return row
            time.sleep(0.02)
        raise AssertionError(f"{task_id} never met the condition; it is {self.row(task_id).status}")

    def wait_ended(self, task_id: str) -> Task:
        return self.wait_for(task_id, lambda row: row.status in ("Finished", "Failed", "Canceled"))
