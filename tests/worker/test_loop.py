"""The worker loop on its own: leases kept by heartbeats, refused outcomes withdrawn, wake-ups."""

from __future__ import annotations

import socket
import threading
from pathlib import Path

import pytest
from support.worker import LocalPlatform, concat_payload, spin_payload

from teabox.formats import CryptoInfo
from teabox.platform.notify import PollingNotifier, SocketNotifier, Topic
from teabox.worker.fetch import TransferPolicy
from teabox.worker.loop import open_worker
from teabox.worker.pool import WorkerPool
from teabox.worker.settings import WorkerSettings


def _settings(local: LocalPlatform, **overrides: object) -> WorkerSettings:
    return WorkerSettings(
        data_dir=local.platform.storage.data_dir,
        transfers=TransferPolicy(allowed_dirs=(local.files,)),
        database_url=local.platform.storage.database.url,
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
    output_id = local.call(
        "register_output_file", url=(local.files / "out.enc").as_uri(), schema=out.schema, key=out.key, iv=out.iv
    )["data_id"]
    function_id = local.function(spin_payload(output="out"), outputs=["out"])
    task_id = local.run(function_id, outputs={"out": output_id})
    # A worker without a supervisor (e.g. on another machine): nobody kills it on cancel.
    loop = open_worker(_settings(local), "lonely-worker")
    try:
        runner = threading.Thread(target=loop.run_once)
        runner.start()
        local.wait_for(task_id, lambda row: row.status == "Running")
        local.call("cancel_task", task_id=task_id)
        runner.join()
    finally:
        loop.close()
    row = local.row(task_id)
    assert row.status == "Canceled" and row.worker_id is None and row.tags is None
    assert not (local.files / "out.enc").exists()
    assert local.call("get_output_file", data_id=output_id)["cmac"] is None


def test_a_staged_task_wakes_idle_workers_and_its_end_wakes_waiters(local: LocalPlatform) -> None:
    notifier = local.platform.storage.notifier
    if isinstance(notifier, PollingNotifier):
        pytest.skip("this database's notifier polls: it has no wake-ups to target")
    queue, results = notifier.listen(Topic.QUEUE), notifier.listen(Topic.RESULTS)
    try:
        function_id = local.function(concat_payload([], []))
        queue.drain()
        results.drain()
        assert not queue.wait(0.0) and not results.wait(0.0)
        task_id = local.run(function_id)  # invoke_task commits, then wakes the queue's listeners
        assert queue.wait(5.0) and not results.wait(0.0)
        queue.drain()
        local.call("cancel_task", task_id=task_id)  # the task ended: the waiters' turn
        assert results.wait(5.0) and not queue.wait(0.0)
    finally:
        queue.close()
        results.close()


def test_a_stop_request_wakes_an_idle_worker_at_once(local: LocalPlatform) -> None:
    loop = open_worker(_settings(local), "idle-worker")
    try:
        runner = threading.Thread(target=loop.run_forever)
        runner.start()
        loop.request_stop()
        runner.join(timeout=60.0)
        assert not runner.is_alive()
    finally:
        loop.close()


def test_wake_ups_work_from_a_data_directory_too_deep_for_a_socket_address(tmp_path: Path) -> None:
    deep = tmp_path.joinpath(*["a-rather-long-directory-name"] * 5) / "wake"
    deep.parent.mkdir(parents=True)
    notifier = SocketNotifier(deep)
    listener = notifier.listen(Topic.QUEUE)
    try:
        assert len(str(deep)) > 108
        notifier.notify(Topic.QUEUE)
        assert listener.wait(5.0)
    finally:
        listener.close()
        notifier.close()


def test_the_sockets_of_listeners_that_are_gone_are_removed(tmp_path: Path) -> None:
    notifier = SocketNotifier(tmp_path / "wake")
    listener = notifier.listen(Topic.RESULTS)
    try:
        stale = tmp_path / "wake" / "results.1.dead"
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as gone:
            gone.bind(str(stale))  # bound, then closed without removing its file: a killed process
        notifier.notify(Topic.RESULTS)
        assert listener.wait(5.0)
        assert not stale.exists()
    finally:
        listener.close()
        notifier.close()
    assert list((tmp_path / "wake").iterdir()) == []


def test_without_wake_ups_a_listener_polls() -> None:
    listener = PollingNotifier(poll_seconds=0.01).listen(Topic.QUEUE)
    try:
        assert listener.fileno() is None
        assert listener.wait(60.0)  # returns after poll_seconds: anything may have changed
    finally:
        listener.close()
