"""Retention: old ended tasks and audit entries are archived, then removed; outputs stay write-once."""

from __future__ import annotations

import json
import stat
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

from support.platform_api import Api, FakeWorker, output_file, register_function

from teabox.failure_kinds import TaskFailureKind
from teabox.platform.models import Task
from teabox.platform.staged import Outcome
from teabox.platform.storage import Storage
from teabox.testing.local_server import LocalServer, teabox_command

TAG = b"\x07" * 16
_GIVE_UP = 120.0  # only keeps a broken build from hanging the suite


def _task(me: Api, function_id: str, out: str) -> str:
    task_id: str = me.call(
        "create_task", function_id=function_id, outputs_ownership=[{"data_name": "out", "uids": [me.user_id]}]
    )["task_id"]
    me.call("assign_data_to_task", task_id=task_id, outputs=[{"data_name": "out", "data_id": out}])
    return task_id


def _withdrawn_at(storage: Storage, task_id: str) -> float | None:
    with storage.database.read() as session:
        return session.get_one(Task, task_id).outputs_withdrawn_at


def _gc(server: LocalServer, *options: str) -> str:
    done = subprocess.run(
        teabox_command("admin", "gc", "--data-dir", str(server.data_dir), *options),
        capture_output=True,
        text=True,
        env=server.env,  # its --database
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def _archived(path: Path) -> list[dict[str, object]]:
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_gc_archives_then_removes_and_outputs_of_removed_tasks_stay_spent(
    open_api: Callable[[str], Api],
    start_platform_server: Callable[..., LocalServer],
) -> None:
    server = start_platform_server(workers=0)
    admin = open_api(server.url).login(server.admin_id, server.admin_password)
    owner, me = admin.new_user("FunctionOwner"), admin.new_user("DataOwner", "keep")
    function_id = register_function(owner, outputs=[{"name": "out"}])
    written, begun, unused = output_file(me, "a.enc"), output_file(me, "b.enc"), output_file(me, "c.enc")
    storage = Storage.open(server.data_dir, migrate=False, database_url=server.database_url)
    worker = FakeWorker(storage)
    try:
        finished = _task(me, function_id, written)
        me.call("invoke_task", task_id=finished)
        assert worker.finish(worker.claim(), Outcome(return_value="0", tags={"out": TAG}))
        failed = _task(me, function_id, begun)
        me.call("invoke_task", task_id=failed)
        run = worker.claim()
        assert storage.queue.begin_writes(run.task_id, worker.worker_id, run.attempt) is None
        worker.finish(
            run, Outcome(failure_kind=TaskFailureKind.OUTPUT_ERROR, reason="the PUT failed after the write began")
        )
        waiting = _task(me, function_id, unused)  # not ended: kept whatever its age
        # A failed task whose write began stays until the service has withdrawn what it may have published.
        deadline = time.monotonic() + _GIVE_UP
        while _withdrawn_at(storage, failed) is None and time.monotonic() < deadline:
            time.sleep(0.1)
        assert _withdrawn_at(storage, failed) is not None

        assert "removed 2 ended tasks" in _gc(server, "--tasks-older-than", "0")
        for gone in (finished, failed):
            me.refused("get_task", 404, task_id=gone)
        assert me.call("get_task", task_id=waiting)["status"] == "DataAssigned"
        [archive] = sorted((server.data_dir / "archive").glob("tasks-*.jsonl"))
        rows = {row["id"]: row for row in _archived(archive)}
        assert set(rows) == {finished, failed}
        assert rows[finished]["return_value"] == "0" and rows[finished]["data"][0]["file_id"] == written  # type: ignore[index]

        # The burn marks live on the file records: neither output can encrypt a second plaintext.
        for out, code in ((written, "output_already_written"), (begun, "output_key_used")):
            again: str = me.call(
                "create_task", function_id=function_id, outputs_ownership=[{"data_name": "out", "uids": [me.user_id]}]
            )["task_id"]
            me.refused("assign_data_to_task", 409, code, task_id=again, outputs=[{"data_name": "out", "data_id": out}])

        logged = admin.call("query_audit_logs", action="retention")["logs"]
        assert len(logged) == 1 and archive.name in logged[0]["object_id"]
        before = admin.call("query_audit_logs", limit=10000)["logs"]
        assert "removed 0 ended tasks and" in _gc(server, "--audit-older-than", "0")
        [audit_archive] = sorted((server.data_dir / "archive").glob("audit-*.jsonl"))
        assert {row["id"] for row in _archived(audit_archive)} >= {entry["id"] for entry in before}
        left = admin.call("query_audit_logs", limit=10000)["logs"]
        assert {entry["action"] for entry in left} <= {"retention", "query_audit_logs"}
    finally:
        storage.close()


def test_gc_names_what_to_remove() -> None:
    done = subprocess.run(teabox_command("admin", "gc", "--data-dir", "/nonexistent"), capture_output=True, text=True)
    assert done.returncode == 2 and "--tasks-older-than" in done.stderr


def test_serve_sweeps_by_its_retention_settings(
    open_api: Callable[[str], Api], start_platform_server: Callable[..., LocalServer]
) -> None:
    server = start_platform_server(workers=0)
    admin = open_api(server.url).login(server.admin_id, server.admin_password)
    owner, me = admin.new_user("FunctionOwner"), admin.new_user("DataOwner", "keep")
    function_id = register_function(owner)
    task_id = me.call("create_task", function_id=function_id)["task_id"]
    me.call("cancel_task", task_id=task_id)
    server.stop()
    server.extra_args = ("--keep-tasks-days", "0", "--keep-audit-days", "365")
    server.start()
    deadline = time.monotonic() + _GIVE_UP
    while me.raw("get_task", {"task_id": task_id}).status_code == 200 and time.monotonic() < deadline:
        time.sleep(0.1)
    me.refused("get_task", 404, task_id=task_id)
    assert len(list((server.data_dir / "archive").glob("tasks-*.jsonl"))) == 1
    assert me.call("create_task", function_id=function_id)["task_id"]  # a new task is untouched
