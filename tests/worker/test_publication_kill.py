"""A worker killed while publishing: what its attempts left is gone once the task is declared lost.

The task writes an ``http://`` output to a server of the test's that holds every PUT without
answering, a ``file://`` output and a platform-hosted one. Publication stages the local ones
first (a hidden part beside the file, a blob for the hosted file) and then PUTs, so each PUT
that arrives is a worker caught in the middle of publishing: the test SIGKILLs it there, three
times, until the task fails as ``worker_lost``. Then nothing may remain: the PUT withdrawn by a
DELETE, no hidden part, no file, the hosted file linked to nothing, and no blob but the payload
once unreferenced blobs are swept.
"""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

import pytest
import wasmtime
from support.http_server import Behaviour, Recorder, recording_server
from support.platform_api import login
from support.wat_imports import HOST_IMPORTS

from teabox.client import Client
from teabox.client.errors import TaskFailed
from teabox.client.requests import DataMap, FunctionOutput, OwnerList
from teabox.testing.local_server import LocalServer, teabox_command

_GIVE_UP = 120.0  # only keeps a broken build from hanging the suite
_OUTPUTS = ("web", "disk", "hosted")
_PASSWORD = "correct horse battery"


def _payload() -> bytes:
    data = ['(data (i32.const 0) "web\\00disk\\00hosted\\00verdict")']
    offsets = {"web": 0, "disk": 4, "hosted": 9}
    writes = " ".join(
        f"(local.set $o (call $create (i32.const {offsets[name]})))"
        "(drop (call $write (local.get $o) (i32.const 16) (i32.const 7)))"
        "(drop (call $close (local.get $o)))"
        for name in _OUTPUTS
    )
    return bytes(
        wasmtime.wat2wasm(
            f"""(module {HOST_IMPORTS} (memory (export "memory") 1) {" ".join(data)}
              (func (export "entrypoint") (param i32 i32) (result i32) (local $o i32) {writes} (i32.const 0)))"""
        )
    )


@pytest.fixture
def holding_server() -> Iterator[Recorder]:
    """Takes a PUT's body and then holds the request unanswered until released (the first ``hold`` PUTs;
    later ones are stored and answered 201); records DELETEs."""
    with recording_server(behaviour=Behaviour(hold=3)) as server:
        yield server


def _worker_pid(server: LocalServer) -> int:
    """The one worker process of ``server`` (a spawned child; the resource tracker is not one)."""
    assert server.process is not None
    children: list[int] = []
    for thread in Path(f"/proc/{server.process.pid}/task").iterdir():
        children += [int(pid) for pid in (thread / "children").read_text().split()]
    workers = [pid for pid in children if b"spawn_main" in Path(f"/proc/{pid}/cmdline").read_bytes()]
    assert len(workers) == 1, workers
    return workers[0]


def _wait_until(condition: Callable[[], bool]) -> None:
    deadline = time.monotonic() + _GIVE_UP
    while not condition() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert condition()


@dataclass
class Publishing:
    server: LocalServer
    owner: Client
    files: Path
    payload: bytes
    outputs: dict[str, str]  # data name -> output file id
    task_id: str

    @property
    def hidden_part(self) -> Path:
        return self.files / f".disk.enc.{self.outputs['disk']}.part"

    def kill_at_each_put(self, holding_server: Recorder, times: int) -> None:
        for _ in range(times):
            assert holding_server.behaviour.put_arrived.wait(_GIVE_UP), "the worker never reached its PUT"
            holding_server.behaviour.put_arrived.clear()
            assert self.hidden_part.exists(), "caught mid-publication: the file:// output is staged, not yet renamed"
            os.kill(_worker_pid(self.server), signal.SIGKILL)

    def blobs(self) -> set[str]:
        return {path.name for path in (self.server.data_dir / "blobs").glob("??/*")}

    def sweep_blobs(self) -> None:
        swept = subprocess.run(
            teabox_command("admin", "gc", "--data-dir", str(self.server.data_dir), "--blobs-older-than", "0"),
            capture_output=True,
            text=True,
            env=self.server.env,  # its --database
        )
        assert swept.returncode == 0, swept.stderr


@pytest.fixture
def publishing(
    start_platform_server: Callable[..., LocalServer], holding_server: Recorder, tmp_path: Path, closer: ExitStack
) -> Publishing:
    """A task with three outputs, invoked on a one-worker server."""
    files = tmp_path / "files"
    files.mkdir()
    server = start_platform_server(workers=1, extra_args=("--allow-file-dir", str(files), "--allow-url", "127.0.0.1"))
    with Client(server.url) as admin:
        admin.user_login(server.admin_id, server.admin_password)
        admin.user_register("vendor", _PASSWORD, "FunctionOwner")
        admin.user_register("owner", _PASSWORD, "DataOwner", "kill")
    owner = closer.enter_context(login(server, "owner", _PASSWORD))
    payload = _payload()
    with login(server, "vendor", _PASSWORD) as vendor:
        function_id = vendor.register_function(
            "three", "writes three outputs", "wamr", payload=payload, outputs=[FunctionOutput(n, "") for n in _OUTPUTS]
        )
    hosted = owner.reserve_file("hosted.enc")
    urls = {"web": f"{holding_server.base}/out/web.enc", "disk": (files / "disk.enc").as_uri(), "hosted": hosted.url}
    outputs = {
        name: owner.register_output_file(url, "aes-gcm-128", bytes(range(i, i + 16)), bytes(range(12)))
        for i, (name, url) in enumerate(urls.items())
    }
    task_id = owner.create_task(function_id, outputs_ownership=[OwnerList(n, [owner.user_id]) for n in _OUTPUTS])
    owner.assign_data_to_task(task_id, [], [DataMap(name, data_id) for name, data_id in outputs.items()])
    owner.invoke_task(task_id)
    return Publishing(server, owner, files, payload, outputs, task_id)


def test_a_task_whose_worker_is_killed_while_publishing_leaves_nothing(
    publishing: Publishing, holding_server: Recorder
) -> None:
    owner, files, outputs, task_id = publishing.owner, publishing.files, publishing.outputs, publishing.task_id
    publishing.kill_at_each_put(holding_server, 3)
    with pytest.raises(TaskFailed) as failed:
        owner.wait_for_task(task_id, _GIVE_UP)
    assert failed.value.kind == "worker_lost"
    _wait_until(lambda: holding_server.deleted == ["/out/web.enc"])  # the withdrawal sweep's DELETE
    _wait_until(lambda: not publishing.hidden_part.exists())
    assert sorted(files.iterdir()) == []
    assert owner.get_output_file(outputs["hosted"]).cmac is None

    payload_id = hashlib.sha256(publishing.payload).hexdigest()
    assert publishing.blobs() - {payload_id}, "the killed attempts did leave their staged hosted blob"
    publishing.sweep_blobs()
    assert publishing.blobs() == {payload_id}, "the killed attempts' hosted blobs are gone"


def test_a_retry_after_a_kill_while_publishing_replaces_what_the_dead_attempt_left(
    publishing: Publishing, holding_server: Recorder
) -> None:
    holding_server.behaviour.hold = 1
    publishing.kill_at_each_put(holding_server, 1)
    result = publishing.owner.wait_for_task(publishing.task_id, _GIVE_UP)
    assert result.status == "Finished"
    assert sorted(path.name for path in publishing.files.iterdir()) == ["disk.enc"], "no hidden part left"
    assert list(holding_server.files) == ["/out/web.enc"] and holding_server.deleted == []
    hosted_tag = publishing.owner.get_output_file(publishing.outputs["hosted"]).cmac
    assert hosted_tag is not None
    publishing.sweep_blobs()
    assert len(publishing.blobs()) == 2, "the payload and the hosted output; the dead attempt's blob was the same"
