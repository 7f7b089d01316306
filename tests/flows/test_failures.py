"""How multi-party tasks fail, over HTTP: a tampered input, a server restart mid-flow,
and an endless payload that times out while other tasks complete."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from support.examples import build_example
from support.flow_scripts import IN_FLIGHT, PSI_COMMON, load_flow
from support.teaclave_fixtures import FIXTURES, needs_fixtures
from wasmtime import wat2wasm

from teabox.client import (
    Client,
    DataMap,
    FunctionArgument,
    FunctionInput,
    FunctionOutput,
    OwnerList,
    TaskFailed,
    encrypt_file,
)
from teabox.demo.flows import FlowLog, Step
from teabox.testing.local_server import LocalServer

ENDLESS_WAT = """
(module
  (memory (export "memory") 1)
  (func (export "entrypoint") (param i32 i32) (result i32)
    (loop $forever (br $forever))
    (i32.const 0)))
"""


def test_tampered_input_fails_the_task_before_the_payload_runs(
    make_user: Callable[..., Client], tmp_path: Path
) -> None:
    vendor = make_user("vendor", "FunctionOwner")
    alice = make_user("alice", "DataOwner", "north")
    bob = make_user("bob", "DataOwner", "south")
    function_id = vendor.register_function(
        "millionaire",
        "",
        "wamr",
        payload=build_example("millionaire-c"),
        inputs=[FunctionInput("pf_in_a"), FunctionInput("pf_in_b")],
        outputs=[FunctionOutput("pf_out")],
    )
    task_id = alice.create_task(
        function_id,
        {},
        "wamr",
        inputs_ownership=[OwnerList("pf_in_a", [alice.user_id]), OwnerList("pf_in_b", [bob.user_id])],
        outputs_ownership=[OwnerList("pf_out", [alice.user_id])],
    )
    # Alice registers the genuine cmac, but the bytes on the platform have one bit flipped in the
    # encrypted part of the file's only node (a file this small keeps its data in the metadata node).
    (tmp_path / "a.txt").write_text("4211037")
    genuine = encrypt_file(tmp_path / "a.txt", tmp_path / "a.enc")
    tampered = bytearray(genuine.path.read_bytes())
    tampered[3000] ^= 0x01
    (tmp_path / "tampered").mkdir()
    (tmp_path / "tampered" / "a.enc").write_bytes(bytes(tampered))
    hosted = alice.upload_file(tmp_path / "tampered" / "a.enc")
    c = genuine.crypto
    alice_in = alice.register_input_file(hosted.url, c.schema, c.key, c.iv, genuine.cmac)
    alice_out = alice.register_hosted_output("verdict.enc")
    alice.assign_data_to_task(task_id, [DataMap("pf_in_a", alice_in)], [DataMap("pf_out", alice_out.data_id)])
    (tmp_path / "b.txt").write_text("1008611")
    bob.assign_data_to_task(task_id, [DataMap("pf_in_b", bob.register_local_input(tmp_path / "b.txt").data_id)], [])
    alice.approve_task(task_id)
    bob.approve_task(task_id)
    alice.invoke_task(task_id)

    with pytest.raises(TaskFailed) as failed:
        alice.get_task_result(task_id, timeout=60)
    assert failed.value.kind == "input_error"
    assert "pf_in_a" in failed.value.reason
    task = bob.get_task(task_id)
    assert (task.status, task.status_code) == ("Failed", 99)
    assert task.result is not None and task.result.return_value is None
    assert "run" not in task.result.metrics.get("stages", {}), "the payload ran on a tampered input"
    assert alice.get_output_file(alice_out.data_id).cmac is None, "an output was published"


@needs_fixtures
@pytest.mark.parametrize("kill", [False, True], ids=["terminate", "kill"])
def test_server_restart_in_the_middle_of_a_two_party_flow(
    start_platform_server: Callable[..., LocalServer], kill: bool
) -> None:
    server = start_platform_server(workers=1)

    def restart_after_first_approval(step: Step) -> None:
        # Statuses so far: created, user0 assigned, user1 assigned, user0 approved.
        if len(log.statuses) == 4 and step.status is not None:
            server.restart(kill=kill)

    log = FlowLog(say=lambda _text: None, on_step=restart_after_first_approval)
    with Client(server.url) as admin:
        admin.user_login(server.admin_id, server.admin_password)
        outputs = load_flow("psi").psi_flow(admin, log, FIXTURES)
    # The tokens, the task, its data and the first approval all outlived the restart.
    assert list(outputs.values()) == [PSI_COMMON, PSI_COMMON]
    assert log.statuses[:5] == ["Created", "Created", "DataAssigned", "DataAssigned", "Approved"]
    assert log.statuses[5] in IN_FLIGHT


def test_endless_payload_times_out_while_other_tasks_complete(make_user: Callable[..., Client]) -> None:
    vendor = make_user("vendor", "FunctionOwner")
    user = make_user("user", "DataOwner", "lab")
    endless = vendor.register_function(
        "endless", "loops forever", "wamr", payload=wat2wasm(ENDLESS_WAT), limits={"timeout_seconds": 3.0}
    )
    add = vendor.register_function(
        "add", "", "wamr", payload=build_example("add-c"), arguments=[FunctionArgument("a"), FunctionArgument("b")]
    )
    endless_task = user.create_task(endless, {}, "wamr")
    user.invoke_task(endless_task)
    add_tasks = {}
    for n in range(4):
        task_id = user.create_task(add, {"a": n, "b": 100}, "wamr")
        user.invoke_task(task_id)
        add_tasks[task_id] = n + 100

    for task_id, expected in add_tasks.items():
        assert user.get_task_result(task_id, timeout=60) == str(expected).encode()
    with pytest.raises(TaskFailed) as failed:
        user.get_task_result(endless_task, timeout=60)
    assert failed.value.kind == "timeout"
    assert user.get_task(endless_task).status == "Failed"
