"""Lost worker: how long after a whole ``teabox worker`` tree is killed its task is back in the queue.

A ``teabox serve --workers 0`` runs the lease sweep; a separate ``teabox worker --workers 1``
claims a task whose payload spins, and once the task runs the worker's whole process group is
SIGKILLed, so no supervisor sees the death. The figure is from the kill to the task being
``Staged`` again, read from the database every 5 ms. The documented bound is
``LOST_WORKER_BOUND_SECONDS`` (see teabox.platform.lease); a pass/fail test of it would race the
clock on a loaded machine, so it is measured here instead.

``python bench/lost_worker.py [--rounds N]`` prints each delay and their median and maximum.
"""

from __future__ import annotations

import argparse
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

if __name__ == "__main__" and not __package__:
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import wasmtime

from teabox.platform.core import Platform
from teabox.platform.lease import LOST_WORKER_BOUND_SECONDS
from teabox.platform.models import Task
from teabox.platform.storage import Storage
from teabox.testing.local_server import LocalServer, teabox_command

_SPIN = """(module (memory (export "memory") 1)
  (func (export "entrypoint") (param i32 i32) (result i32) (loop $l (br $l)) (i32.const 0)))"""
_GIVE_UP = 60.0


def _status(storage: Storage, task_id: str) -> Task:
    with storage.database.read() as session:
        return session.get_one(Task, task_id)


def _wait(storage: Storage, task_id: str, status: str, poll: float) -> float:
    deadline = time.monotonic() + _GIVE_UP
    while time.monotonic() < deadline:
        if _status(storage, task_id).status == status:
            return time.monotonic()
        time.sleep(poll)
    raise RuntimeError(f"task {task_id} never became {status}")


def measure(rounds: int) -> list[float]:
    delays = []
    with tempfile.TemporaryDirectory(prefix="teabox-lost-worker-") as scratch:
        server = LocalServer(Path(scratch) / "data", workers=0)
        server.start()
        storage = Storage.open(server.data_dir, migrate=False, database_url=server.database_url)
        platform = Platform(storage)
        token = platform.call("user_login", None, {"user_id": server.admin_id, "password": server.admin_password})
        admin = platform.authenticate(token["token"])
        function_id = platform.call(
            "register_function",
            admin,
            {
                "name": "spin",
                "description": "",
                "executor_type": "wamr",
                "public": True,
                "payload_id": None,
                "payload": bytes(wasmtime.wat2wasm(_SPIN)),
                "arguments": [],
                "user_allowlist": [],
                "usage_quota": None,
                "inputs": [],
                "outputs": [],
                "limits": {"timeout_seconds": _GIVE_UP},
            },
        )["function_id"]
        try:
            for _ in range(rounds):
                worker = subprocess.Popen(
                    teabox_command("worker", "--data-dir", str(server.data_dir), "--workers", "1"),
                    start_new_session=True,
                    stderr=subprocess.DEVNULL,
                )
                task_id = platform.call(
                    "create_task",
                    admin,
                    {
                        "function_id": function_id,
                        "function_arguments": {},
                        "executor": "wamr",
                        "inputs_ownership": [],
                        "outputs_ownership": [],
                    },
                )["task_id"]
                platform.call("invoke_task", admin, {"task_id": task_id})
                _wait(storage, task_id, "Running", 0.05)
                time.sleep(1.0)  # well into the run: heartbeats have renewed the lease
                killed = time.monotonic()
                os.killpg(worker.pid, signal.SIGKILL)
                delays.append(_wait(storage, task_id, "Staged", 0.005) - killed)
                worker.wait()
                platform.call("cancel_task", admin, {"task_id": task_id})
        finally:
            storage.close()
            server.stop()
    return delays


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    delays = measure(parser.parse_args().rounds)
    for delay in delays:
        print(f"requeued {delay:.2f} s after the kill")
    print(
        f"median {statistics.median(delays):.2f} s, max {max(delays):.2f} s "
        f"(documented bound {LOST_WORKER_BOUND_SECONDS:g} s)"
    )


if __name__ == "__main__":
    main()
