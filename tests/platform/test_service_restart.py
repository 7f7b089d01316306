"""A restart loses nothing: users, tokens, functions, files, tasks, queued tasks and results."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

import httpx
from support.platform_api import Api, FakeWorker, input_file, output_file, register_function, start_server

from teabox.platform.staged import Outcome
from teabox.platform.storage import Storage


def test_restart_keeps_everything(
    open_api: Callable[[str], Api], tmp_path: Path, new_database: Callable[[], str | None]
) -> None:
    server = start_server(tmp_path / "data", database_url=new_database())
    try:
        admin = open_api(server.url).login(server.admin_id, server.admin_password)
        owner = admin.new_user("FunctionOwner")
        me = admin.new_user("DataOwner", "restart")
        function_id = register_function(owner, inputs=[{"name": "in"}], outputs=[{"name": "out"}])
        uploaded = httpx.post(
            f"{server.url}/api/v1/upload_file", params={"name": "kept.enc"}, content=b"kept", headers=me.headers()
        ).json()
        in_id, out_id = input_file(me), output_file(me)
        ownership = {
            "inputs_ownership": [{"data_name": "in", "uids": [me.user_id]}],
            "outputs_ownership": [{"data_name": "out", "uids": [me.user_id]}],
        }
        waiting = me.call("create_task", function_id=function_id, **ownership)["task_id"]
        finished = me.call("create_task", function_id=function_id, **ownership)["task_id"]
        me.call(
            "assign_data_to_task",
            task_id=finished,
            inputs=[{"data_name": "in", "data_id": in_id}],
            outputs=[{"data_name": "out", "data_id": out_id}],
        )
        me.call("invoke_task", task_id=finished)
        storage = Storage.open(server.data_dir, migrate=False, database_url=server.database_url)
        worker = FakeWorker(storage)
        assert worker.finish(worker.claim(), Outcome(return_value="77", tags={"out": b"\x01" * 16}))
        queued = me.call("create_task", function_id=function_id, **ownership)["task_id"]
        me.call(
            "assign_data_to_task",
            task_id=queued,
            inputs=[{"data_name": "in", "data_id": input_file(me)}],
            outputs=[{"data_name": "out", "data_id": output_file(me)}],
        )
        me.call("invoke_task", task_id=queued)
        storage.close()

        server.stop()
        server.start()

        me.call("get_current_user")  # the token survived
        admin.call("get_current_user")
        assert owner.call("get_function", function_id=function_id)["function_id"] == function_id
        assert me.call("get_input_file", data_id=in_id)["owner"] == [me.user_id]
        assert me.call("get_output_file", data_id=out_id)["cmac"] == "01" * 16
        download = httpx.get(
            f"{server.url}/api/v1/download_file", params={"url": uploaded["url"]}, headers=me.headers()
        )
        assert download.content == b"kept"
        assert me.call("get_task", task_id=waiting)["status"] == "Created"
        assert me.call("get_task_result", task_id=finished, timeout=0)["return_value"] == "77"
        assert me.call("get_task", task_id=queued)["status"] == "Staged"
        storage = Storage.open(server.data_dir, migrate=False, database_url=server.database_url)
        try:
            assert FakeWorker(storage).claim().task_id == queued  # the queue survived too
        finally:
            storage.close()
        assert me.login(me.user_id).call("list_tasks")["task_ids"] == [waiting, finished, queued]
        actions = {entry["action"] for entry in admin.call("query_audit_logs", user_id=me.user_id, limit=200)["logs"]}
        assert {"create_task", "invoke_task", "upload_file", "get_task"} <= actions
    finally:
        server.stop()


def test_tokens_expire(open_api: Callable[[str], Api], tmp_path: Path, new_database: Callable[[], str | None]) -> None:
    """A token works after its login and is refused once the expiry the login named has passed.

    The wait is for that named moment, on the clock the server uses, not a fixed sleep after a
    short lifetime: a loaded machine may take longer than a second just to answer the login.
    """
    server = start_server(tmp_path / "data", "--token-ttl", "5", database_url=new_database())
    try:
        admin = open_api(server.url)
        answer = admin.call("user_login", user_id=server.admin_id, password=server.admin_password)
        admin.user_id, admin.token = server.admin_id, answer["token"]
        admin.call("get_current_user")
        expires = datetime.fromisoformat(answer["expires_at"].replace("Z", "+00:00")).timestamp()
        while time.time() <= expires:
            time.sleep(expires - time.time() + 0.01)
        admin.refused("get_current_user", 401, "invalid_token")
    finally:
        server.stop()
