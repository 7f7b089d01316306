"""The SDK against a real server: typed errors, bounded waits, transfers, file chains,
and a Teaclave script body running unchanged."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from support.examples import build_example
from support.flow_scripts import PSI_COMMON
from support.teaclave_fixtures import FIXTURES, needs_fixtures

from teabox.client import (
    AuthenticationService,
    BadRequest,
    Client,
    Conflict,
    CryptoInfo,
    Forbidden,
    FrontendService,
    FunctionArgument,
    FunctionInput,
    FunctionOutput,
    InvalidRequest,
    NotFound,
    OwnerList,
    PayloadTooLarge,
    TaskCanceled,
    TaskWaitTimeout,
    Unauthenticated,
    decrypt_file,
)
from teabox.testing.local_server import LocalServer


def _add_function(vendor: Client) -> str:
    return vendor.register_function(
        "add", "", "wamr", payload=build_example("add-c"), arguments=[FunctionArgument("a"), FunctionArgument("b")]
    )


def test_each_refusal_is_a_typed_error_with_the_servers_code_and_message(
    platform_server: LocalServer, make_user: Callable[..., Client]
) -> None:
    vendor = make_user("vendor", "FunctionOwner")
    user = make_user("user", "DataOwner", "lab")
    with Client(platform_server.url) as anonymous, pytest.raises(Unauthenticated) as e401:
        anonymous.list_tasks()
    assert (e401.value.status, e401.value.code) == (401, "unauthenticated")
    assert e401.value.message

    with pytest.raises(Forbidden) as e403:
        user.register_function("f", "", "wamr", payload=build_example("add-c"))
    assert e403.value.status == 403 and e403.value.code == "forbidden"

    with pytest.raises(NotFound) as e404:
        user.get_task("task-00000000-0000-0000-0000-000000000000")
    assert e404.value.code == "unknown_task"

    with pytest.raises(InvalidRequest) as e422:
        vendor.register_function("bad", "", "wamr", payload=b"\0asm\1\0\0\0")
    assert e422.value.code == "invalid_payload"
    assert "entrypoint" in e422.value.message

    with pytest.raises(BadRequest) as e400:
        user._transport.call("get_task", {"task_id": 5})
    assert e400.value.status == 400

    task_id = user.create_task(_add_function(vendor), {"a": 1, "b": 2})
    user.invoke_task(task_id)
    assert user.get_task_result(task_id) == b"3"
    with pytest.raises(Conflict) as e409:
        user.invoke_task(task_id)
    assert e409.value.status == 409 and "Finished" in e409.value.message


def test_waits_are_bounded_and_a_canceled_task_raises(make_user: Callable[..., Client]) -> None:
    vendor = make_user("vendor", "FunctionOwner")
    user = make_user("user", "DataOwner", "lab")
    task_id = user.create_task(_add_function(vendor), {"a": 1, "b": 2})
    with pytest.raises(TaskWaitTimeout) as timed_out:
        user.get_task_result(task_id, timeout=0.5)  # never invoked: a bounded wait, not an endless poll
    assert timed_out.value.status == "Created"
    user.cancel_task(task_id)
    with pytest.raises(TaskCanceled):
        user.get_task_result(task_id, timeout=10)
    with pytest.raises(TaskCanceled):
        user.get_output_cmac_by_tag(task_id, "anything", timeout=10)


def test_upload_and_download_stream_with_progress(make_user: Callable[..., Client], tmp_path: Path) -> None:
    user = make_user("user", "DataOwner", "lab")
    source = tmp_path / "big.bin"
    source.write_bytes(bytes(range(256)) * 12_000)  # ~3 MiB: several chunks each way
    up: list[tuple[int, int | None]] = []
    hosted = user.upload_file(source, "big.bin", progress=lambda done, total: up.append((done, total)))
    assert hosted.url.endswith("/big.bin") and hosted.size == source.stat().st_size
    assert up[-1] == (hosted.size, hosted.size) and len(up) > 2
    data_id = user.register_input_file(hosted.url, "raw", b"", b"", None)
    assert user.get_input_file(data_id).url == hosted.url
    down: list[tuple[int, int | None]] = []
    size = user.download_file(hosted.url, tmp_path / "copy.bin", progress=lambda d, t: down.append((d, t)))
    assert (tmp_path / "copy.bin").read_bytes() == source.read_bytes()
    assert down[-1] == (size, size)


def test_upload_over_the_servers_limit_is_refused(
    start_platform_server: Callable[..., LocalServer], tmp_path: Path
) -> None:
    server = start_platform_server(workers=0, extra_args=("--max-upload-bytes", "1000"))
    (tmp_path / "small").write_bytes(b"x" * 1000)
    (tmp_path / "large").write_bytes(b"x" * 1001)
    with Client(server.url) as admin:
        admin.user_login(server.admin_id, server.admin_password)
        assert admin.upload_file(tmp_path / "small").size == 1000
        with pytest.raises(PayloadTooLarge) as refused:
            admin.upload_file(tmp_path / "large")
    assert refused.value.code == "too_large"


@needs_fixtures
def test_a_teaclave_script_body_runs_unchanged(
    platform_server: LocalServer, admin_client: Client, tmp_path: Path
) -> None:
    """The body of Teaclave's wasm_rust_psi.py: lists of ints for keys and cmacs, metadata
    copied from the auth client to the frontend client, its own DataList class."""

    class DataList:
        def __init__(self, data_name: str, data_id: str) -> None:
            self.data_name = data_name
            self.data_id = data_id

    users = {}
    for uid in ("psi-vendor", "psi-user0", "psi-user1"):
        uid = f"{uid}-{tmp_path.name[-12:]}"
        role, attribute = ("FunctionOwner", "") if "vendor" in uid else ("DataOwner", "psi")
        admin_client.user_register(uid, "password", role, attribute)
        # The connection lines are what a port changes:
        with AuthenticationService(platform_server.url).connect() as auth:
            token = auth.user_login(uid, "password")
        client = FrontendService(platform_server.url).connect()
        client.metadata = {"id": uid, "token": token}
        users[uid.split("-")[1]] = client
    vendor, user0, user1 = users["vendor"], users["user0"], users["user1"]

    payload = build_example("psi-rust")
    function_id = vendor.register_function(
        name="rust-wasm-ordered-set-intersect",
        description="WAMR Rust Private Set Intersection",
        payload=list(payload),
        executor_type="wamr",
        arguments=[
            FunctionArgument("input1"),
            FunctionArgument("input2"),
            FunctionArgument("output1"),
            FunctionArgument("output2"),
        ],
        inputs=[FunctionInput("input_data1", "Client 0 data."), FunctionInput("input_data2", "Client 1 data.")],
        outputs=[FunctionOutput("output_result1", "Output data."), FunctionOutput("output_result2", "Output data.")],
    )
    task_id = user0.create_task(
        function_id=function_id,
        function_arguments={
            "input1": "input_data1",
            "input2": "input_data2",
            "output1": "output_result1",
            "output2": "output_result2",
        },
        executor="wamr",
        inputs_ownership=[OwnerList("input_data1", [user0.user_id]), OwnerList("input_data2", [user1.user_id])],
        outputs_ownership=[OwnerList("output_result1", [user0.user_id]), OwnerList("output_result2", [user1.user_id])],
    )
    data = FIXTURES / "wamr_rust_psi"
    cmacs = {
        "psi0.txt.enc": [
            0xFD,
            0x9B,
            0x31,
            0x9A,
            0xE0,
            0xFC,
            0x59,
            0x5A,
            0x98,
            0xEE,
            0x41,
            0x35,
            0x66,
            0x7A,
            0xC0,
            0xAC,
        ],
        "psi1.txt.enc": [
            0x93,
            0xCC,
            0x67,
            0x7D,
            0x7B,
            0xAC,
            0x59,
            0x10,
            0xCD,
            0x71,
            0x99,
            0xF7,
            0xD6,
            0xB9,
            0xAC,
            0x15,
        ],
    }
    key = [0] * 16
    outputs = {}
    for client, name, in_label, out_label in (
        (user0, "psi0.txt.enc", "input_data1", "output_result1"),
        (user1, "psi1.txt.enc", "input_data2", "output_result2"),
    ):
        input_url = client.upload_file(data / name).url  # teabox hosts the file; Teaclave used an HTTP server
        output_url = client.reserve_file(f"output_{name}").url
        input_id = client.register_input_file(input_url, "teaclave-file-128", key, [], cmacs[name])
        output_id = client.register_output_file(output_url, "teaclave-file-128", key, [])
        client.assign_data_to_task(task_id, [DataList(in_label, input_id)], [DataList(out_label, output_id)])
        outputs[client.user_id] = (output_id, output_url)
    user0.approve_task(task_id)
    user1.approve_task(task_id)
    user0.invoke_task(task_id)
    assert bytes(user0.get_task_result(task_id)) == b"6"
    assert bytes(user1.get_task_result(task_id)) == b"6"

    output_id, output_url = outputs[user0.user_id]
    tag = user0.get_output_cmac_by_tag(task_id, "output_result1")
    assert tag == user0.get_output_file(output_id).cmac and len(tag) == 16
    encrypted = tmp_path / output_url.rsplit("/", 1)[-1]
    user0.download_file(output_url, encrypted)
    decrypt_file(
        encrypted, tmp_path / "plain.txt", crypto=CryptoInfo("teaclave-file-128", bytes(key), b""), expected_cmac=tag
    )
    assert (tmp_path / "plain.txt").read_text().splitlines() == PSI_COMMON

    # A written output can feed the next task as an input, with its tag as the cmac.
    chained = user0.register_input_from_output(output_id)
    record = user0.get_input_file(chained)
    assert (record.url, record.cmac) == (output_url, tag)
    for client in users.values():
        client.close()
