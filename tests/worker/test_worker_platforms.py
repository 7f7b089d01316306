"""The same worker tests over both ways a worker reaches the platform: the data directory, and HTTP with a token.

A real ``teabox serve`` (no workers of its own) holds the platform; the
worker loop under test runs in this process over a
:class:`teabox.worker.direct.DirectPlatform` on the server's data directory,
or a :class:`teabox.worker.remote.RemotePlatform` with a worker token and a
staging directory of its own.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from support.payloads import concat_payload, spin_payload
from support.platform_api import login
from support.remote_workers import hosted_task, issue_worker_token, wait_until

from teabox.client import Client, ClientError, DataMap, FunctionInput, OwnerList
from teabox.testing.local_server import LocalServer
from teabox.worker.loop import WorkerLoop, open_worker
from teabox.worker.settings import RemoteEndpoint, WorkerSettings

# Its tests share module-scoped servers: one pytest-xdist process runs them all, so each starts once.
pytestmark = pytest.mark.xdist_group("worker_platforms")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalServer]:
    with LocalServer(tmp_path_factory.mktemp("platform"), workers=0) as started:
        yield started


@pytest.fixture(scope="module")
def owner(server: LocalServer) -> Iterator[Client]:
    with login(server, server.admin_id, server.admin_password) as client:
        yield client


@pytest.fixture(params=["direct", "remote"])
def loop(request: pytest.FixtureRequest, server: LocalServer, tmp_path: Path) -> Iterator[WorkerLoop]:
    if request.param == "direct":
        settings = WorkerSettings(data_dir=server.data_dir)
    else:
        endpoint = RemoteEndpoint(server.url, issue_worker_token(server, "platforms"))
        settings = WorkerSettings(data_dir=tmp_path / "remote-worker", remote=endpoint)
    worker = open_worker(settings, f"{request.param}-worker")
    yield worker
    worker.close()


def test_a_task_over_encrypted_hosted_files_runs_and_its_output_decrypts(
    loop: WorkerLoop, owner: Client, tmp_path: Path
) -> None:
    task_id, _, output = hosted_task(owner, concat_payload(["in"], ["out"]), b"private rows", tmp_path)
    assert loop.run_once()
    assert owner.wait_for_task(task_id, 60).return_value == "12"
    owner.fetch_output(output.data_id, output.crypto, tmp_path / "out.txt")
    assert (tmp_path / "out.txt").read_bytes() == b"private rows"


def test_an_input_that_fails_its_cmac_fails_the_task_before_the_payload_runs(
    loop: WorkerLoop, owner: Client, tmp_path: Path
) -> None:
    function_id = owner.register_function(
        "copy", "", "wamr", payload=concat_payload(["in"], []), inputs=[FunctionInput("in")]
    )
    source = tmp_path / "in.txt"
    source.write_bytes(b"rows")
    given = owner.register_local_input(source)
    forged = owner.register_input_file(given.url, given.crypto.schema, given.crypto.key, given.crypto.iv, bytes(16))
    task_id = owner.create_task(function_id, inputs_ownership=[OwnerList("in", [owner.user_id])])
    owner.assign_data_to_task(task_id, [DataMap("in", forged)])
    owner.approve_task(task_id)
    owner.invoke_task(task_id)
    assert loop.run_once()
    result = owner.poll_task_result(task_id, 0)
    assert (result.status, result.failure_kind) == ("Failed", "input_error")
    assert "cmac" in (result.reason or "")


def test_a_run_canceled_meanwhile_is_refused_and_its_hosted_output_taken_back(
    loop: WorkerLoop, owner: Client, tmp_path: Path
) -> None:
    task_id, _, output = hosted_task(owner, spin_payload(output="out"), b"unused", tmp_path)
    runner = threading.Thread(target=loop.run_once)
    runner.start()
    wait_until(lambda: owner.get_task(task_id).status == "Running", "the run starts")
    owner.cancel_task(task_id)
    runner.join()
    assert owner.get_task(task_id).status == "Canceled"
    assert owner.get_output_file(output.data_id).cmac is None

    def unlinked() -> bool:
        try:
            owner.download_file(output.url, tmp_path / "leftover")
        except ClientError:
            return True
        return False

    wait_until(unlinked, "the hosted output holds no bytes")


def test_an_idle_claim_waits_then_finds_nothing(loop: WorkerLoop) -> None:
    assert not loop.run_once()


def test_a_stop_request_ends_an_idle_loop(loop: WorkerLoop) -> None:
    runner = threading.Thread(target=loop.run_forever)
    runner.start()
    loop.request_stop()
    runner.join(timeout=120.0)
    assert not runner.is_alive()
