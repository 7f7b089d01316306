"""Every answer the service really sends, held to the model its OpenAPI entry declares.

The SDK drives every operation through a real ``teabox serve`` (and a real worker loop, in this process, that
runs the task on the server's data directory), and every response is checked as it arrives:
a 200 against the operation's answer model, which forbids unknown fields, and a refusal against the error
body and the statuses the operation declares. Every operation must have answered 200 at least once.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
import wasmtime
from support.wat_imports import HOST_IMPORTS

from teabox.client import ApiError, Client, FunctionInput, FunctionOutput, NotFound, OwnerList
from teabox.client.requests import DataMap
from teabox.platform.context import OPERATIONS
from teabox.platform.core import Platform
from teabox.platform.storage import Storage
from teabox.service.answers import ANSWERS, ErrorBody
from teabox.service.call_audit import PREFIX
from teabox.service.refusals import statuses
from teabox.testing.local_server import LocalServer
from teabox.worker.loop import open_worker
from teabox.worker.settings import WorkerSettings

PASSWORD = "a long enough password"
# Reads the input "in" and writes it to the output "out"; returns the number of bytes copied.
COPY = f"""(module {HOST_IMPORTS}
  (memory (export "memory") 1)
  (data (i32.const 0) "in\\00out\\00")
  (func (export "entrypoint") (param i32 i32) (result i32) (local $in i32) (local $out i32) (local $n i32)
    (local $total i32)
    (local.set $in (call $open (i32.const 0)))
    (local.set $out (call $create (i32.const 3)))
    (block $done (loop $next
      (local.set $n (call $read (local.get $in) (i32.const 1024) (i32.const 4096)))
      (br_if $done (i32.le_s (local.get $n) (i32.const 0)))
      (drop (call $write (local.get $out) (i32.const 1024) (local.get $n)))
      (local.set $total (i32.add (local.get $total) (local.get $n)))
      (br $next)))
    (drop (call $close (local.get $in)))
    (drop (call $close (local.get $out)))
    (local.get $total)))"""


@dataclass
class Wire:
    """What the service answered, operation by operation, each answer already checked."""

    answered: dict[str, set[int]] = field(default_factory=dict)

    def check(self, response: httpx.Response) -> None:
        name = response.request.url.path.removeprefix(f"{PREFIX}/")
        if name not in OPERATIONS:
            return
        self.answered.setdefault(name, set()).add(response.status_code)
        where = f"{name} answered {response.status_code}"
        if response.status_code != 200:
            assert response.status_code in statuses(name), f"{where}, which it does not declare"
            ErrorBody.model_validate_json(response.read(), strict=True)
        elif name in ANSWERS:
            ANSWERS[name].model_validate_json(response.read(), strict=True)
        else:
            assert response.headers["content-type"] == "application/octet-stream", where


@dataclass
class Service:
    server: LocalServer
    wire: Wire
    closer: ExitStack

    def client(self) -> Client:
        """An SDK client whose answers the wire checks; its connection pool is the test's ``closer``'s to close."""
        checked = httpx.Client(base_url=self.server.url, event_hooks={"response": [self.wire.check]})
        return Client(self.server.url, http=self.closer.enter_context(checked))

    def user(self, admin: Client, user_id: str, role: str, attribute: str = "") -> Client:
        admin.user_register(user_id, PASSWORD, role, attribute)
        client = self.client()
        client.user_login(user_id, PASSWORD)
        return client

    def run_queued_task(self, cache: Path) -> None:
        settings = WorkerSettings(self.server.data_dir, module_cache_dir=cache)
        loop = open_worker(settings, "contract-worker")
        try:
            assert loop.run_once()
        finally:
            loop.close()

    def reset_token(self, user_id: str) -> str:
        """What ``teabox admin reset-password`` prints, issued on the server's machine."""
        storage = Storage.open(self.server.data_dir, migrate=False)
        try:
            return Platform(storage).issue_reset_token(user_id)
        finally:
            storage.close()


@pytest.fixture
def service(start_platform_server: Callable[..., LocalServer], closer: ExitStack) -> Service:
    return Service(start_platform_server(workers=0), Wire(), closer)


def test_every_operation_answers_as_its_model_says(service: Service, tmp_path: Path) -> None:
    admin = service.client()
    admin.user_login(service.server.admin_id, service.server.admin_password)
    assert admin.get_current_user().role == "PlatformAdmin"
    vendor = service.user(admin, "vendor", "FunctionOwner")
    alice = service.user(admin, "alice", "DataOwner", "bank")
    bob = service.user(admin, "bob", "DataOwner", "bank")
    admin.user_register("dave", PASSWORD, "DataOwner", "bank")
    admin.user_update("dave", "DataOwner", "branch")
    assert set(admin.list_users()) >= {"vendor", "alice", "bob"}

    # functions
    copy = bytes(wasmtime.wat2wasm(COPY))
    function_id = vendor.register_function(
        "copy", "copies in to out", "wamr", payload=copy, inputs=[FunctionInput("in")], outputs=[FunctionOutput("out")]
    )
    assert vendor.update_function(
        function_id,
        "copy",
        "the same",
        "wamr",
        payload=copy,
        inputs=[FunctionInput("in")],
        outputs=[FunctionOutput("out")],
    ) == (function_id)
    assert vendor.get_function(function_id).payload_id is not None
    assert vendor.list_functions().registered_functions == [function_id]
    assert vendor.get_function_usage_stats(function_id).current_usage == 0
    assert vendor.download_payload(function_id, tmp_path / "copy.wasm") == len(copy)
    spare = vendor.register_function("spare", "", "wamr", payload=copy)
    vendor.disable_function(spare)
    vendor.delete_function(spare)

    # files
    (tmp_path / "in.txt").write_bytes(b"contract")
    source = alice.register_local_input(tmp_path / "in.txt")
    moved = alice.update_input_file(source.data_id, source.url)
    destination = alice.register_hosted_output("out.enc")
    destination_id = alice.update_output_file(destination.data_id, alice.reserve_file("out2.enc").url)
    assert alice.get_input_file(moved).cmac == source.cmac
    assert alice.get_output_file(destination_id).cmac is None
    inputs, outputs = alice.list_files()
    assert moved in {f.data_id for f in inputs} and destination_id in {f.data_id for f in outputs}
    fusion = alice.register_fusion_output(["alice", "bob"])
    assert bob.accept_fusion_output(fusion) == []

    # a task, run by a real worker loop
    task_id = alice.create_task(
        function_id, inputs_ownership=[OwnerList("in", ["alice"])], outputs_ownership=[OwnerList("out", ["alice"])]
    )
    alice.assign_data_to_task(task_id, [DataMap("in", moved)], [DataMap("out", destination_id)])
    alice.approve_task(task_id)
    alice.invoke_task(task_id)
    assert admin.get_queue_stats()["queue_depth"] == 1
    service.run_queued_task(tmp_path / "cache")
    assert alice.get_task_result(task_id) == b"8"
    assert alice.get_task(task_id)["status"] == 10
    assert alice.list_tasks() == [task_id]
    assert len(alice.get_output_cmac_by_tag(task_id, "out")) == 16
    moved_output = alice.get_output_file(destination_id)
    alice.download_file(moved_output.url, tmp_path / "out.enc")
    assert alice.register_input_from_output(destination_id).startswith("input-")
    canceled = alice.create_task(
        function_id, inputs_ownership=[OwnerList("in", ["alice"])], outputs_ownership=[OwnerList("out", ["alice"])]
    )
    alice.cancel_task(canceled)

    # accounts
    carol = service.user(admin, "carol", "DataOwner", "bank")
    carol.user_change_password(PASSWORD + "!")
    admin.reset_user_password("carol")
    carol.user_redeem_reset("carol", service.reset_token("carol"), PASSWORD)
    admin.delete_user("carol")
    assert admin.query_audit_logs(action="delete_user")[0].object_id == "carol"
    with pytest.raises(NotFound):
        alice.get_task("task-unknown")
    with pytest.raises(ApiError):
        alice.register_fusion_output(["alice"])
    alice.user_logout()

    answered = {name for name, seen in service.wire.answered.items() if 200 in seen}
    assert answered == set(OPERATIONS), f"never answered 200: {set(OPERATIONS) - answered}"
    assert service.wire.answered["get_task"] == {200, 404}
    assert service.wire.answered["register_fusion_output"] == {200, 422}
