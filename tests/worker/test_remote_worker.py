"""``teabox worker --url``: a worker on "another machine" (its own empty directory) against a real ``teabox serve``."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import ExitStack
from pathlib import Path

from sqlalchemy import create_engine, text
from support.platform_api import login
from support.remote_workers import RemoteWorker, hosted_task, issue_worker_token, token_id_of, wait_until
from support.round_robin import RoundRobin
from support.worker import concat_payload, endless_payload, spin_payload

from teabox.client import Client
from teabox.platform.database_url import sqlite_url
from teabox.testing.local_server import LocalServer

PLAINTEXT = b"the data owner's private rows\n" * 1000


def _owner(closer: ExitStack, server: LocalServer) -> Client:
    """The admin, who may call every operation: these tests are about the worker, not the roles."""
    return closer.enter_context(login(server, server.admin_id, server.admin_password))


def _row(server: LocalServer, task_id: str) -> tuple[str, str | None, int]:
    """(status, worker id, attempt) as the server's database holds them."""
    engine = create_engine(server.database_url or sqlite_url(server.data_dir))
    try:
        with engine.connect() as db:
            status, worker_id, attempt = db.execute(
                text("select status, worker_id, attempt from tasks where id = :task"), {"task": task_id}
            ).one()
    finally:
        engine.dispose()
    return status, worker_id, attempt


def test_a_remote_worker_runs_encrypted_hosted_tasks_holding_no_platform_secret(
    start_platform_server: Callable[..., LocalServer], tmp_path: Path, closer: ExitStack
) -> None:
    server = start_platform_server(workers=0)
    token = issue_worker_token(server, "machine-b")
    owner = _owner(closer, server)
    with RemoteWorker(tmp_path / "machine-b", server.url, token) as worker:
        task_id, _, output = hosted_task(owner, concat_payload(["in"], ["out"]), PLAINTEXT, tmp_path)
        result = owner.wait_for_task(task_id, 120)
        assert result.return_value == str(len(PLAINTEXT))
        assert owner.fetch_output(output.data_id, output.crypto, tmp_path / "out.txt") is not None
        assert (tmp_path / "out.txt").read_bytes() == PLAINTEXT
        # The run was recorded under the worker token's id, and the worker saw no database, key or blob.
        assert owner.get_task(task_id).attempt == 1
        held_by = worker.log()
        assert token_id_of(server, token) in held_by
    found = {path.name for path in worker.home.rglob("*")}
    assert not found & {"teabox.db", "platform.key", "blobs"}, found


def test_a_remote_worker_killed_mid_task_loses_its_lease_and_the_task_runs_again(
    start_platform_server: Callable[..., LocalServer], tmp_path: Path, closer: ExitStack
) -> None:
    server = start_platform_server(workers=0)
    token = issue_worker_token(server)
    owner = _owner(closer, server)
    first = RemoteWorker(tmp_path / "first", server.url, token).start()
    try:
        task_id, _, output = hosted_task(owner, spin_payload(output="out"), b"unused", tmp_path)
        wait_until(lambda: _row(server, task_id)[0] == "Running", "the first worker runs the task")
        _, first_holder, _ = _row(server, task_id)
        first.stop(kill=True)
    finally:
        first.stop()
    with RemoteWorker(tmp_path / "second", server.url, token):
        result = owner.wait_for_task(task_id, 120)
    assert result.return_value == "7"
    assert owner.get_task(task_id).attempt == 2  # the killed worker's lease ran out; nobody released it
    assert first_holder is not None and first_holder.startswith(token_id_of(server, token) + "/")
    assert owner.fetch_output(output.data_id, output.crypto, tmp_path / "out.txt") is not None
    assert (tmp_path / "out.txt").read_bytes() == b"ok"


def test_a_remote_worker_rides_out_a_restart_of_the_api_server(
    start_platform_server: Callable[..., LocalServer], tmp_path: Path, closer: ExitStack
) -> None:
    server = start_platform_server(workers=0)
    token = issue_worker_token(server)
    owner = _owner(closer, server)
    with RemoteWorker(tmp_path / "worker", server.url, token) as worker:
        first, _, _ = hosted_task(owner, concat_payload(["in"], ["out"]), b"before", tmp_path)
        assert owner.wait_for_task(first, 120).return_value == "6"
        server.restart()  # same port: the URL the worker knows
        second, _, output = hosted_task(owner, concat_payload(["in"], ["out"]), b"after the restart", tmp_path)
        assert owner.wait_for_task(second, 120).return_value == str(len(b"after the restart"))
        assert worker.process is not None and worker.process.poll() is None
    owner.fetch_output(output.data_id, output.crypto, tmp_path / "out.txt")
    assert (tmp_path / "out.txt").read_bytes() == b"after the restart"


def test_remote_workers_use_several_api_servers_behind_one_url_and_outlive_one_of_them(
    start_platform_server: Callable[..., LocalServer], tmp_path: Path, closer: ExitStack
) -> None:
    first = start_platform_server(workers=0)
    # The same platform: a second API server on the first one's data, with its admin.
    second = LocalServer(
        first.data_dir, workers=0, admin_password=first.admin_password, database_url=first.database_url
    )
    second._admin_created = True
    second.start()
    balancer = RoundRobin([first.port, second.port])
    try:
        token = issue_worker_token(first)
        owner = _owner(closer, second)
        with RemoteWorker(tmp_path / "worker", balancer.url, token, workers=2):
            before, _, _ = hosted_task(owner, concat_payload(["in"], ["out"]), b"two servers", tmp_path)
            assert owner.wait_for_task(before, 120).return_value == "11"
            assert set(balancer.connections) == {first.port, second.port}  # each server answered worker calls
            first.stop()
            after, _, output = hosted_task(owner, concat_payload(["in"], ["out"]), b"one server left", tmp_path)
            assert owner.wait_for_task(after, 120).return_value == "15"
        owner.fetch_output(output.data_id, output.crypto, tmp_path / "out.txt")
        assert (tmp_path / "out.txt").read_bytes() == b"one server left"
    finally:
        balancer.close()
        second.stop()


def test_a_remote_worker_stops_a_canceled_run_itself_and_takes_the_next_task(
    start_platform_server: Callable[..., LocalServer], tmp_path: Path, closer: ExitStack
) -> None:
    server = start_platform_server(workers=0, extra_args=("--log-level", "debug"))  # access log on
    owner = _owner(closer, server)
    with RemoteWorker(tmp_path / "worker", server.url, issue_worker_token(server), workers=1) as worker:
        endless, _, _ = hosted_task(owner, endless_payload(), b"unused", tmp_path)  # a 300-second limit
        # Once its payload is fetched, nothing but the worker itself can stop the run.
        wait_until(lambda: "/api/v1/worker/payload?" in server.log_tail(1000), "the worker fetches the payload")
        owner.cancel_task(endless)
        # One worker process: the next task runs only once the endless run has been stopped.
        following, _, _ = hosted_task(owner, concat_payload(["in"], ["out"]), b"next", tmp_path)
        assert owner.wait_for_task(following, 120).return_value == "4"
        assert f"task {endless} was canceled or its lease passed on; stopping its run" in worker.log()
    assert owner.get_task(endless).status == "Canceled"
