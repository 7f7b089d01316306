"""The scale-out deployment on one machine: PostgreSQL, an S3 store, two API servers, three remote workers.

Each API server has its own data directory (the platform key comes from the environment, as
docs/deploy.md says); each worker runs in an empty directory of its own with nothing but its
worker token, behind a round-robin balancer over both servers. Clients are spread over both
servers. One API server and one worker are killed while tasks are queued and running: every
task must still end Finished, with the output its own run wrote, readable by its owner.
"""

from __future__ import annotations

import os
from contextlib import ExitStack
from pathlib import Path

from support.payloads import concat_payload, spin_payload
from support.platform_api import login
from support.postgres import PostgresCluster
from support.remote_workers import RemoteWorker, hosted_task, issue_worker_token, wait_until
from support.round_robin import RoundRobin
from support.s3 import S3Server

from teabox.client import Client
from teabox.testing.local_server import LocalServer

TASKS_PER_CLIENT = 6


def _client(closer: ExitStack, server: LocalServer) -> Client:
    """The admin's client of ``server``, closed by ``closer`` at the end."""
    return closer.enter_context(login(server, server.admin_id, server.admin_password))


def test_two_api_servers_and_three_remote_workers_lose_one_of_each_and_lose_no_task(
    postgres_cluster: PostgresCluster, s3_server: S3Server, tmp_path: Path, closer: ExitStack
) -> None:
    shared = {
        **s3_server.environment(),
        "TEABOX_DATABASE_URL": postgres_cluster.create_database(),
        "TEABOX_BLOBS_URL": f"s3://{s3_server.fresh_prefix()}/teabox",
        "TEABOX_PLATFORM_KEY": os.urandom(32).hex(),
    }
    first = LocalServer(tmp_path / "api-1", workers=0, env=shared)
    first.start()
    second = LocalServer(tmp_path / "api-2", workers=0, env=shared, admin_password=first.admin_password)
    second._admin_created = True  # the admin lives in the shared database already
    second.start()
    balancer = RoundRobin([first.port, second.port])
    token = issue_worker_token(first, "machines")
    workers = [RemoteWorker(tmp_path / f"worker-{n}", balancer.url, token).start() for n in range(3)]
    try:
        clients = {first.url: _client(closer, first), second.url: _client(closer, second)}
        # One long run per worker, so that the worker killed below surely dies holding one.
        long_runs = [hosted_task(clients[first.url], spin_payload(output="out"), b"-", tmp_path) for _ in workers]
        watcher = clients[second.url]
        wait_until(
            lambda: all(watcher.get_task(task_id).status == "Running" for task_id, _, _ in long_runs),
            "every worker runs one of the long tasks",
        )
        # Mid-flow: one worker dies without a word while its long run is surely still running (a long run
        # lasts seconds, which queueing the tasks below may take on a loaded machine), then one API server.
        workers[0].stop(kill=True)
        queued: dict[str, tuple[bytes, object]] = {}
        for n in range(TASKS_PER_CLIENT):
            for url, client in clients.items():
                plaintext = f"task {n} through {url}\n".encode() * 100
                task_id, _, output = hosted_task(client, concat_payload(["in"], ["out"]), plaintext, tmp_path)
                queued[task_id] = (plaintext, output)
        first.stop(kill=True)
        survivor = _client(closer, second)  # the first server's clients carry on through the second
        expected = {task_id: (b"ok", output, "7") for task_id, _, output in long_runs}
        expected |= {task_id: (text, output, str(len(text))) for task_id, (text, output) in queued.items()}
        for task_id, (plaintext, output, returned) in expected.items():
            assert survivor.wait_for_task(task_id, 300).return_value == returned
            target = tmp_path / f"{task_id}.out"
            survivor.fetch_output(output.data_id, output.crypto, target)  # type: ignore[attr-defined]
            assert target.read_bytes() == plaintext
        # The killed worker's task ran again once its lease ran out (and gave the one result above).
        assert 2 in [survivor.get_task(task_id).attempt for task_id, _, _ in long_runs]
        # No worker directory holds a platform secret or a blob.
        for worker in workers:
            found = {path.name for path in worker.home.rglob("*")}
            assert not found & {"teabox.db", "platform.key", "blobs"}, found
    finally:
        for worker in workers:
            worker.stop()
        balancer.close()
        second.stop()
        first.stop()
