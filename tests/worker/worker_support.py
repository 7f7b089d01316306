"""Building blocks for the worker tests: payloads from WebAssembly text, encrypted files, staged tasks."""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import wasmtime
from wat_imports import HOST_IMPORTS

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


def make_context(tmp_path: Path, transfers: Transfers, payloads: dict[str, bytes]) -> WorkerContext:
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


_IMPORTS = HOST_IMPORTS


def concat_payload(inputs: list[str], outputs: list[str]) -> bytes:
    """Writes the concatenation of ``inputs`` to each of ``outputs``; returns the bytes read."""
    names: dict[str, int] = {}
    data = []
    offset = 0
    for name in inputs + outputs:
        names[name] = offset
        data.append(f'(data (i32.const {offset}) "{name}\\00")')
        offset += len(name.encode()) + 1
    buffer = 4096
    body = []
    for name in outputs:
        body.append(f"(local.set $fd (call $create (i32.const {names[name]})))")
        body.append("(call $write_inputs (local.get $fd))")
        body.append("(drop (call $close (local.get $fd)))")
    copy_inputs = "\n".join(
        f"""(local.set $in (call $open (i32.const {names[name]})))
            (block $done{i} (loop $next{i}
              (local.set $n (call $read (local.get $in) (i32.const {buffer}) (i32.const 4096)))
              (br_if $done{i} (i32.le_s (local.get $n) (i32.const 0)))
              (drop (call $write (local.get $out) (i32.const {buffer}) (local.get $n)))
              (global.set $total (i32.add (global.get $total) (local.get $n)))
              (br $next{i})))
            (drop (call $close (local.get $in)))"""
        for i, name in enumerate(inputs)
    )
    text = f"""(module {_IMPORTS}
      (memory (export "memory") 1)
      (global $total (mut i32) (i32.const 0))
      {" ".join(data)}
      (func $write_inputs (param $out i32) (local $in i32) (local $n i32)
        {copy_inputs})
      (func (export "entrypoint") (param i32 i32) (result i32) (local $fd i32)
        {" ".join(body)}
        (global.get $total)))"""
    return bytes(wasmtime.wat2wasm(text))


def endless_payload() -> bytes:
    """Never returns: only a limit, a cancel or a kill stops it."""
    return bytes(
        wasmtime.wat2wasm(
            f"""(module {_IMPORTS}
          (memory (export "memory") 1)
          (func (export "entrypoint") (param i32 i32) (result i32)
            (loop $forever (br $forever))
            (i32.const 0)))"""
        )
    )


def spin_payload(iterations: int = 4_000_000_000, output: str | None = None) -> bytes:
    """Busy for a few seconds, then (optionally) writes ``ok`` to ``output`` and returns 7."""
    write = (
        """(local.set $fd (call $create (i32.const 16)))
            (drop (call $write (local.get $fd) (i32.const 32) (i32.const 2)))
            (drop (call $close (local.get $fd)))"""
        if output
        else ""
    )
    return bytes(
        wasmtime.wat2wasm(
            f"""(module {_IMPORTS}
          (memory (export "memory") 1)
          (data (i32.const 16) "{output or ""}\\00")
          (data (i32.const 32) "ok")
          (func (export "entrypoint") (param i32 i32) (result i32) (local $i i32) (local $fd i32)
            (loop $l
              (local.set $i (i32.add (local.get $i) (i32.const 1)))
              (i32.store (i32.const 0) (local.get $i))
              (br_if $l (i32.lt_u (local.get $i) (i32.const {iterations}))))
            {write}
            (i32.const 7)))"""
        )
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
