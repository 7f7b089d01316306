"""The worker pool over a real data directory: runs, crashes, cancels.

The platform runs in this process (the same domain code the HTTP service
calls); the workers are real processes started by the pool, sharing only the
data directory with it.
"""

from __future__ import annotations

import os
import signal
import time
from typing import Any

from support.worker import DEADLINE, LocalPlatform, concat_payload, encrypted_file, endless_payload, spin_payload

from teabox.formats import CryptoInfo, decrypt
from teabox.worker.fetch import TransferPolicy
from teabox.worker.pool import WorkerPool
from teabox.worker.settings import WorkerSettings
from teabox.worker.staging import staging_base


def _pool(local: LocalPlatform, workers: int, **overrides: Any) -> WorkerPool:
    settings = WorkerSettings(
        data_dir=local.platform.storage.data_dir,
        transfers=TransferPolicy(allowed_dirs=(local.files,)),
        database_url=local.platform.storage.database.url,
        **overrides,
    )
    return WorkerPool(settings, workers)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_a_task_with_encrypted_files_runs_in_a_worker_process(local: LocalPlatform) -> None:
    crypto, tag = encrypted_file(local.files / "in.enc", b"4211037")
    input_id = local.call(
        "register_input_file",
        url=(local.files / "in.enc").as_uri(),
        schema=crypto.schema,
        key=crypto.key,
        iv=crypto.iv,
        cmac=tag,
    )["data_id"]
    out = CryptoInfo.random("aes-gcm-128")
    output_id = local.call(
        "register_output_file", url=(local.files / "out.enc").as_uri(), schema=out.schema, key=out.key, iv=out.iv
    )["data_id"]
    function_id = local.function(concat_payload(["in"], ["out"]), inputs=["in"], outputs=["out"])

    with _pool(local, 1):
        task_id = local.run(function_id, {"in": input_id}, {"out": output_id})
        row = local.wait_ended(task_id)

    assert (row.status, row.return_value, row.failure_kind) == ("Finished", "7", None)
    assert local.call("get_output_file", data_id=output_id)["cmac"] == row.tags["out"]
    decrypt(out, local.files / "out.enc", local.files / "out.plain", expected_cmac=bytes.fromhex(row.tags["out"]))
    assert (local.files / "out.plain").read_bytes() == b"4211037"
    assert row.metrics["stages"]["run"] >= 0
    assert list(staging_base(local.platform.storage.data_dir).iterdir()) == []


def test_a_killed_worker_is_replaced_and_its_task_retried(local: LocalPlatform) -> None:
    function_id = local.function(spin_payload())
    with _pool(local, 1) as pool:
        task_id = local.run(function_id)
        running = local.wait_for(task_id, lambda row: row.status == "Running" and row.worker_id is not None)
        victim = pool.worker_pids()[running.worker_id]
        os.kill(victim, signal.SIGKILL)
        row = local.wait_ended(task_id)
        assert not _alive(victim)
        assert len(pool.worker_pids()) == 1 and victim not in pool.worker_pids().values()
    assert (row.status, row.attempt, row.return_value) == ("Finished", 2, "7")
    assert not (staging_base(local.platform.storage.data_dir) / running.worker_id).exists()


def test_a_task_whose_worker_keeps_dying_fails_as_worker_lost(local: LocalPlatform) -> None:
    function_id = local.function(spin_payload())
    with _pool(local, 1, max_attempts=1) as pool:
        task_id = local.run(function_id)
        running = local.wait_for(task_id, lambda row: row.status == "Running" and row.worker_id is not None)
        os.kill(pool.worker_pids()[running.worker_id], signal.SIGKILL)
        row = local.wait_ended(task_id)
    assert (row.status, row.failure_kind) == ("Failed", "worker_lost")
    assert "stopped responding" in row.reason


def test_cancel_stops_an_endless_payload_while_another_task_completes(local: LocalPlatform) -> None:
    endless = local.function(endless_payload(), timeout=600.0)
    spinning = local.function(spin_payload())
    with _pool(local, 2) as pool:
        stuck = local.run(endless)
        stuck_row = local.wait_for(stuck, lambda row: row.status == "Running" and row.worker_id is not None)
        other = local.run(spinning)
        other_row = local.wait_for(other, lambda row: row.status == "Running" and row.worker_id is not None)
        stuck_pid = pool.worker_pids()[stuck_row.worker_id]
        other_pid = pool.worker_pids()[other_row.worker_id]

        local.call("cancel_task", task_id=stuck)
        deadline = time.monotonic() + DEADLINE
        while _alive(stuck_pid) and time.monotonic() < deadline:
            time.sleep(0.01)
        assert not _alive(stuck_pid)

        finished = local.wait_ended(other)
        assert _alive(other_pid) and other_pid in pool.worker_pids().values()
    assert local.row(stuck).status == "Canceled" and local.row(stuck).worker_id is None
    assert (finished.status, finished.return_value, finished.attempt) == ("Finished", "7", 1)
