"""The worker loop on its own: leases kept by heartbeats, refused outcomes withdrawn, wake-ups."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

from worker_support import LocalPlatform, concat_payload, spin_payload

from teabox.formats import CryptoInfo
from teabox.worker.fetch import TransferPolicy
from teabox.worker.loop import open_worker
from teabox.worker.pool import WorkerPool
from teabox.worker.settings import WorkerSettings
from teabox.worker.wakeup import QueueBell


def _settings(local: LocalPlatform, **overrides: object) -> WorkerSettings:
    return WorkerSettings(
        data_dir=local.platform.storage.data_dir,
        transfers=TransferPolicy(allowed_dirs=(local.files,)),
        **overrides,  # type: ignore[arg-type]
    )


def test_heartbeats_keep_a_run_longer_than_its_lease(local: LocalPlatform) -> None:
    function_id = local.function(spin_payload())
    # The supervisor recovers expired leases every second: without heartbeats this run would be retried.
    with WorkerPool(_settings(local, lease_seconds=1.0, heartbeat_seconds=0.2), 1):
        task_id = local.run(function_id)
        row = local.wait_ended(task_id)
    assert (row.status, row.attempt, row.return_value) == ("Finished", 1, "7")
    assert row.metrics["wall_time"] > 1.0  # the run did outlast the lease


def test_outputs_of_a_run_canceled_meanwhile_are_withdrawn(local: LocalPlatform) -> None:
    out = CryptoInfo.random("aes-gcm-128")
    output_id = local.call("register_output_file", url=(local.files / "out.enc").as_uri(), schema=out.schema,
                           key=out.key, iv=out.iv)["data_id"]
    function_id = local.function(spin_payload(output="out"), outputs=["out"])
    task_id = local.run(function_id, outputs={"out": output_id})
    # A worker without a supervisor (e.g. on another machine): nobody kills it on cancel.
    loop, storage = open_worker(_settings(local), "lonely-worker")
    try:
        runner = threading.Thread(target=loop.run_once)
        runner.start()
        local.wait_for(task_id, lambda row: row.status == "Running")
        local.call("cancel_task", task_id=task_id)
        runner.join()
    finally:
        loop.close()
        storage.close()
    row = local.row(task_id)
    assert row.status == "Canceled" and row.worker_id is None and row.tags is None
    assert not (local.files / "out.enc").exists()
    assert local.call("get_output_file", data_id=output_id)["cmac"] is None


def test_the_bell_rings_when_another_connection_commits(tmp_path: Path, local: LocalPlatform) -> None:
    bell = QueueBell(local.platform.storage.database, poll_seconds=0.001, fallback_seconds=60.0)
    try:
        mark = bell.mark()
        assert bell.mark() == mark
        local.run(local.function(concat_payload([], [])))  # commits from the platform's connections
        assert bell.mark() != mark
        stop = threading.Event()
        bell.wait(mark, stop)  # returns at once: something changed since the mark
        stop.set()
        bell.wait(bell.mark(), stop)  # returns at once: asked to stop
    finally:
        bell.close()


def test_the_bell_reads_without_writing(local: LocalPlatform) -> None:
    bell = QueueBell(local.platform.storage.database, poll_seconds=0.001)
    path = local.platform.storage.database.engine.url.database
    writer = sqlite3.connect(path, timeout=0.1, isolation_level=None)
    try:
        writer.execute("BEGIN IMMEDIATE")  # holds the write lock: a writing bell would block here
        bell.mark()
        writer.execute("ROLLBACK")
    finally:
        writer.close()
        bell.close()
