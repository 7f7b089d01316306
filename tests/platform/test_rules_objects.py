"""Object-level rules: who may see and use which function, file and task (allowed cells and denials)."""

from __future__ import annotations

from pathlib import Path

import httpx
from support.platform_api import Api, FakeWorker, function_body, input_file, output_file, register_function, wat_payload

from teabox.platform.staged import Outcome
from teabox.platform.storage import Storage

TAG = b"\x05" * 16


def test_function_views(admin: Api) -> None:
    owner = admin.new_user("FunctionOwner")
    listed = admin.new_user("DataOwner", "fn")
    stranger = admin.new_user("DataOwner", "fn")  # same attribute: the allowlist is by user id, not attribute
    public = register_function(owner)
    private = register_function(owner, public=False, user_allowlist=[listed.user_id])

    for viewer in (owner, listed, stranger, admin):
        assert "payload_id" in viewer.call("get_function", function_id=public)
    full = owner.call("get_function", function_id=private)
    assert full["user_allowlist"] == [listed.user_id] and "payload_id" in full
    assert "payload_id" in admin.call("get_function", function_id=private)
    partial = listed.call("get_function", function_id=private)
    assert "payload_id" not in partial and "user_allowlist" not in partial and partial["name"] == "f"
    stranger.refused("get_function", 403, "forbidden", function_id=private)
    denied = listed.download("download_payload", function_id=private)
    assert denied.status_code == 403

    assert listed.call("get_function_usage_stats", function_id=private) == {"function_quota": None, "current_usage": 0}
    owner.call("get_function_usage_stats", function_id=private)  # Teaclave refused the owner here
    stranger.refused("get_function_usage_stats", 403, "forbidden", function_id=private)

    assert listed.call("list_functions")["allowed_functions"] == [private]
    assert owner.call("list_functions")["registered_functions"] == [public, private]
    listed.refused("list_functions", 403, "forbidden", user_id=owner.user_id)
    assert admin.call("list_functions", user_id=owner.user_id)["registered_functions"] == [public, private]


def test_function_changes_by_owner_only(admin: Api) -> None:
    owner = admin.new_user("FunctionOwner")
    rival = admin.new_user("FunctionOwner")
    function_id = register_function(owner)
    rival.refused("update_function", 403, "forbidden", function_id=function_id, **function_body(wat_payload()))
    rival.refused("disable_function", 403, "forbidden", function_id=function_id)
    rival.refused("delete_function", 403, "forbidden", function_id=function_id)
    owner.call("update_function", function_id=function_id, **function_body(wat_payload(9), name="renamed"))
    assert owner.call("get_function", function_id=function_id)["name"] == "renamed"

    user = admin.new_user("DataOwner", "dis")
    task_id = user.call("create_task", function_id=function_id)["task_id"]
    admin.call("disable_function", function_id=function_id)
    assert owner.call("get_function", function_id=function_id)["disabled"] is True
    user.refused("create_task", 409, "function_disabled", function_id=function_id)
    user.refused("invoke_task", 409, "function_disabled", task_id=task_id)
    owner.call("delete_function", function_id=function_id)
    owner.refused("get_function", 404, "unknown_function", function_id=function_id)


def test_create_task_needs_public_or_allowlisted_user(admin: Api) -> None:
    owner = admin.new_user("FunctionOwner")
    listed = admin.new_user("DataOwner", "same")
    stranger = admin.new_user("DataOwner", "same")
    private = register_function(owner, public=False, user_allowlist=[listed.user_id])
    task_id = listed.call("create_task", function_id=private)["task_id"]
    # The owner of a private function takes part (and must approve).
    assert owner.user_id in listed.call("get_task", task_id=task_id)["participants"]
    stranger.refused("create_task", 403, "forbidden", function_id=private)
    owner.refused("create_task", 403, "forbidden", function_id=private)  # FunctionOwner may not create tasks
    assert admin.call("create_task", function_id=private)["task_id"]


def test_quota(admin: Api, worker: FakeWorker) -> None:
    owner = admin.new_user("FunctionOwner")
    function_id = register_function(owner, usage_quota=2)
    me = admin.new_user("DataOwner", "quota")
    tasks = [me.call("create_task", function_id=function_id)["task_id"] for _ in range(3)]
    me.call("invoke_task", task_id=tasks[0])
    me.call("invoke_task", task_id=tasks[1])
    me.refused("invoke_task", 409, "quota_exceeded", task_id=tasks[2])
    assert me.call("get_task", task_id=tasks[2])["status"] == "Created"
    assert me.call("get_function_usage_stats", function_id=function_id) == {"function_quota": 2, "current_usage": 2}


def test_task_reads(admin: Api) -> None:
    owner = admin.new_user("FunctionOwner")
    function_id = register_function(owner)
    creator = admin.new_user("DataOwner", "r")
    outsider = admin.new_user("DataOwner", "r")
    task_id = creator.call("create_task", function_id=function_id)["task_id"]
    outsider.refused("get_task", 403, "forbidden", task_id=task_id)
    outsider.refused("get_task_result", 403, "forbidden", task_id=task_id, timeout=0)
    outsider.refused("approve_task", 403, "forbidden", task_id=task_id)
    outsider.refused("cancel_task", 403, "forbidden", task_id=task_id)
    owner.refused("get_task", 403, "forbidden", task_id=task_id)  # a public function's owner is no participant
    assert admin.call("get_task", task_id=task_id)["task_id"] == task_id  # the admin reads every task
    assert task_id in admin.call("list_tasks")["task_ids"]
    assert task_id not in outsider.call("list_tasks")["task_ids"]


def _one_in_one_out(admin: Api) -> tuple[Api, Api, str]:
    owner = admin.new_user("FunctionOwner")
    a = admin.new_user("DataOwner", "as")
    b = admin.new_user("DataOwner", "as")
    function_id = register_function(owner, inputs=[{"name": "in"}], outputs=[{"name": "out"}])
    task_id = a.call(
        "create_task",
        function_id=function_id,
        inputs_ownership=[{"data_name": "in", "uids": [a.user_id]}],
        outputs_ownership=[{"data_name": "out", "uids": [a.user_id, b.user_id]}],
    )["task_id"]
    return a, b, task_id


def test_assign_rules(admin: Api) -> None:
    a, b, task_id = _one_in_one_out(admin)
    b_input = input_file(b)
    a.refused(
        "assign_data_to_task", 403, "forbidden", task_id=task_id, inputs=[{"data_name": "in", "data_id": b_input}]
    )
    b.refused(
        "assign_data_to_task",
        403,
        "ownership_mismatch",
        task_id=task_id,
        inputs=[{"data_name": "in", "data_id": b_input}],
    )
    a.refused(
        "assign_data_to_task",
        422,
        "invalid_data_name",
        task_id=task_id,
        inputs=[{"data_name": "nope", "data_id": input_file(a)}],
    )
    a.refused(
        "assign_data_to_task",
        404,
        "unknown_file",
        task_id=task_id,
        inputs=[{"data_name": "in", "data_id": output_file(a)}],
    )
    solo_output = output_file(a)  # owned by a alone, but the task declares a and b
    a.refused(
        "assign_data_to_task",
        403,
        "ownership_mismatch",
        task_id=task_id,
        outputs=[{"data_name": "out", "data_id": solo_output}],
    )
    a.call("assign_data_to_task", task_id=task_id, inputs=[{"data_name": "in", "data_id": input_file(a)}])
    a.refused(
        "assign_data_to_task",
        409,
        "already_assigned",
        task_id=task_id,
        inputs=[{"data_name": "in", "data_id": input_file(a)}],
    )
    outsider = admin.new_user("DataOwner", "as")
    outsider.refused(
        "assign_data_to_task",
        403,
        "forbidden",
        task_id=task_id,
        inputs=[{"data_name": "in", "data_id": input_file(outsider)}],
    )
    # a fusion output owned by both fits the declared ownership
    fusion = a.call("register_fusion_output", owner_list=[a.user_id, b.user_id])["data_id"]
    outputs = [{"data_name": "out", "data_id": fusion}]
    b.refused("assign_data_to_task", 409, "consent_pending", task_id=task_id, outputs=outputs)
    assert b.call("accept_fusion_output", data_id=fusion) == {"pending_owners": []}
    b.call("assign_data_to_task", task_id=task_id, outputs=outputs)
    assert a.call("get_task", task_id=task_id)["status"] == "DataAssigned"


def test_outputs_are_write_once(admin: Api, worker: FakeWorker) -> None:
    owner = admin.new_user("FunctionOwner")
    me = admin.new_user("DataOwner", "once")
    function_id = register_function(owner, outputs=[{"name": "out"}])
    out = output_file(me)

    def new_task() -> str:
        return me.call(
            "create_task", function_id=function_id, outputs_ownership=[{"data_name": "out", "uids": [me.user_id]}]
        )["task_id"]

    first, second = new_task(), new_task()
    me.call("assign_data_to_task", task_id=first, outputs=[{"data_name": "out", "data_id": out}])
    me.refused(
        "assign_data_to_task",
        409,
        "output_already_assigned",
        task_id=second,
        outputs=[{"data_name": "out", "data_id": out}],
    )
    me.call("invoke_task", task_id=first)
    assert worker.finish(worker.claim(), Outcome(return_value="0", tags={"out": TAG}))
    me.refused(
        "assign_data_to_task",
        409,
        "output_already_written",
        task_id=second,
        outputs=[{"data_name": "out", "data_id": out}],
    )


def test_file_rules(admin: Api, worker: FakeWorker) -> None:
    a = admin.new_user("DataOwner", "fr")
    b = admin.new_user("DataOwner", "fr")
    own_input = input_file(a)
    assert a.call("get_input_file", data_id=own_input)["owner"] == [a.user_id]
    b.refused("get_input_file", 403, "forbidden", data_id=own_input)
    b.refused("update_input_file", 403, "forbidden", data_id=own_input, url="https://x/new.enc")
    moved = a.call("update_input_file", data_id=own_input, url="https://x/new.enc")["data_id"]
    assert (
        moved != own_input
        and a.call("get_input_file", data_id=moved)["cmac"] == a.call("get_input_file", data_id=own_input)["cmac"]
    )

    fusion = a.call("register_fusion_output", owner_list=[a.user_id, b.user_id])["data_id"]
    assert b.call("get_output_file", data_id=fusion)["url"].endswith(".fusion")
    a.refused("update_output_file", 403, "forbidden", data_id=fusion, url="https://x/f")  # several owners
    a.refused("register_fusion_output", 422, "invalid_ownership", owner_list=[a.user_id])
    b.refused("register_fusion_output", 422, "invalid_ownership", owner_list=[a.user_id, admin.user_id])
    a.refused("register_input_from_output", 409, "file_not_written", data_id=fusion)
    admin.new_user("DataOwner", "fr").refused("register_input_from_output", 403, "forbidden", data_id=fusion)


def test_hosted_output_download_rules(admin: Api, worker: FakeWorker, storage: Storage, tmp_path: Path) -> None:
    owner = admin.new_user("FunctionOwner")
    me = admin.new_user("DataOwner", "host")
    other = admin.new_user("DataOwner", "host")
    reserved = me.call("reserve_file", name="result.enc")
    crypto = {"schema": "aes-gcm-128", "key": "00" * 16, "iv": "00" * 12}
    other.refused("register_output_file", 403, "forbidden", url=reserved["url"], **crypto)
    out = me.call("register_output_file", url=reserved["url"], **crypto)["data_id"]
    me.refused("register_output_file", 409, "already_exists", url=reserved["url"], **crypto)

    def download(api: Api) -> httpx.Response:
        return api.download("download_file", url=reserved["url"])

    assert download(me).json()["error"]["code"] == "file_not_written"
    function_id = register_function(owner, outputs=[{"name": "out"}])
    task_id = me.call(
        "create_task", function_id=function_id, outputs_ownership=[{"data_name": "out", "uids": [me.user_id]}]
    )["task_id"]
    me.call("assign_data_to_task", task_id=task_id, outputs=[{"data_name": "out", "data_id": out}])
    me.call("invoke_task", task_id=task_id)
    staged = worker.claim()
    sealed = tmp_path / "sealed.bin"
    sealed.write_bytes(b"sealed bytes")
    storage.hosted.stage_hosted(sealed, staged.outputs[0].url, 1024).commit()  # what a worker publishes
    assert worker.finish(staged, Outcome(return_value="0", tags={"out": TAG}))
    assert download(me).content == b"sealed bytes"
    assert download(other).status_code == 403
