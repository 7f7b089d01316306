"""Every task state transition, and every illegal one, through the HTTP API and the real queue."""

from __future__ import annotations

import threading
import time

import pytest
from support.platform_api import Api, FakeWorker, input_file, output_file, register_function

from teabox.failure_kinds import TaskFailureKind
from teabox.platform.staged import Outcome
from teabox.platform.storage import Storage

TAG = bytes(range(16))


def status(api: Api, task_id: str) -> str:
    return api.call("get_task", task_id=task_id)["status"]


@pytest.fixture
def two_party(admin: Api):
    """A function with one input and one output, a creator owning the input and a partner owning the output."""

    class Flow:
        owner = admin.new_user("FunctionOwner")
        creator = admin.new_user("DataOwner", "a")
        partner = admin.new_user("DataOwner", "b")
        function_id = register_function(
            owner,
            inputs=[{"name": "in", "description": ""}],
            outputs=[{"name": "out", "description": ""}],
        )

        def create(self) -> str:
            return self.creator.call(
                "create_task",
                function_id=self.function_id,
                executor="wamr",
                inputs_ownership=[{"data_name": "in", "uids": [self.creator.user_id]}],
                outputs_ownership=[{"data_name": "out", "uids": [self.partner.user_id]}],
            )["task_id"]

        def assign_all(self, task_id: str) -> None:
            self.creator.call(
                "assign_data_to_task",
                task_id=task_id,
                inputs=[{"data_name": "in", "data_id": input_file(self.creator)}],
            )
            self.partner.call(
                "assign_data_to_task",
                task_id=task_id,
                outputs=[{"data_name": "out", "data_id": output_file(self.partner)}],
            )

        def approve_all(self, task_id: str) -> None:
            self.creator.call("approve_task", task_id=task_id)
            self.partner.call("approve_task", task_id=task_id)

        def to(self, task_id: str, target: str, worker: FakeWorker | None = None) -> None:
            """Drive a fresh task to ``target`` the legal way."""
            order = ["Created", "DataAssigned", "Approved", "Staged", "Running"]
            steps = {
                "DataAssigned": lambda: self.assign_all(task_id),
                "Approved": lambda: self.approve_all(task_id),
                "Staged": lambda: self.creator.call("invoke_task", task_id=task_id),
                "Running": lambda: worker.claim() if worker else None,
            }
            for state in order[1 : order.index(target) + 1]:
                steps[state]()
                assert status(self.creator, task_id) == state

    return Flow()


def test_full_lifecycle_and_result(two_party, worker: FakeWorker) -> None:
    flow = two_party
    task_id = flow.create()
    view = flow.creator.call("get_task", task_id=task_id)
    assert (view["status"], view["status_code"]) == ("Created", 0)
    assert view["participants"] == sorted([flow.creator.user_id, flow.partner.user_id])

    flow.creator.call(
        "assign_data_to_task", task_id=task_id, inputs=[{"data_name": "in", "data_id": input_file(flow.creator)}]
    )
    assert status(flow.creator, task_id) == "Created"  # still waiting for the output
    out = output_file(flow.partner)
    flow.partner.call("assign_data_to_task", task_id=task_id, outputs=[{"data_name": "out", "data_id": out}])
    assert status(flow.creator, task_id) == "DataAssigned"

    flow.creator.call("approve_task", task_id=task_id)
    assert status(flow.creator, task_id) == "DataAssigned"
    flow.creator.refused("invoke_task", 409, "not_approved", task_id=task_id)
    flow.partner.call("approve_task", task_id=task_id)
    assert flow.creator.call("get_task", task_id=task_id)["status_code"] == 2

    flow.creator.call("invoke_task", task_id=task_id)
    assert status(flow.creator, task_id) == "Staged"
    staged = worker.claim()
    assert staged.task_id == task_id and staged.attempt == 1
    assert [i.data_name for i in staged.inputs] == ["in"] and [o.data_name for o in staged.outputs] == ["out"]
    assert (status(flow.partner, task_id), flow.partner.call("get_task", task_id=task_id)["status_code"]) == (
        "Running",
        4,
    )
    assert worker.finish(staged, Outcome(return_value="42", tags={"out": TAG}, metrics={"wall_time": 0.01}))

    result = flow.partner.call("get_task_result", task_id=task_id, timeout=0)
    assert result["done"] and result["status"] == "Finished" and result["status_code"] == 10
    assert result["return_value"] == "42" and result["tags_map"] == {"out": TAG.hex()}
    assert flow.partner.call("get_output_file", data_id=out)["cmac"] == TAG.hex()
    assert flow.creator.call("get_output_cmac_by_tag", task_id=task_id, tag="out") == {"cmac": TAG.hex()}
    flow.creator.refused("get_output_cmac_by_tag", 404, "unknown_tag", task_id=task_id, tag="nope")


def test_single_participant_invokes_straight_after_creation(admin: Api, worker: FakeWorker) -> None:
    owner = admin.new_user("FunctionOwner")
    function_id = register_function(owner, arguments=[{"key": "n", "default_value": "1", "allow_overwrite": True}])
    me = admin.new_user("DataOwner", "solo")
    task_id = me.call("create_task", function_id=function_id, function_arguments={"n": 5}, executor="wasm")["task_id"]
    me.call("invoke_task", task_id=task_id)
    assert status(me, task_id) == "Staged"
    staged = worker.claim()
    assert staged.arguments == {"n": 5}


def test_failed_run_is_failed_with_kind_and_reason(two_party, worker: FakeWorker) -> None:
    flow = two_party
    task_id = flow.create()
    flow.to(task_id, "Running", worker)
    staged = worker.queue.claim("nobody", 1)  # nothing else is staged
    assert staged is None
    running = _running(worker, task_id)
    assert worker.queue.finish(
        task_id, worker.worker_id, running, Outcome(failure_kind=TaskFailureKind.TRAP, reason="unreachable executed")
    )
    result = flow.creator.call("get_task_result", task_id=task_id, timeout=0)
    assert (result["status"], result["status_code"], result["failure_kind"], result["reason"]) == (
        "Failed",
        99,
        "trap",
        "unreachable executed",
    )
    assert result["return_value"] is None
    out = flow.partner.call("get_task", task_id=task_id)["assigned_outputs"][0]["data_id"]
    assert flow.partner.call("get_output_file", data_id=out)["cmac"] is None  # a failed run writes no output


def _running(worker: FakeWorker, task_id: str) -> int:
    with worker.queue.database.read() as session:
        from teabox.platform.models import Task

        return session.get_one(Task, task_id).attempt


@pytest.mark.parametrize("state", ["Created", "DataAssigned", "Approved", "Staged", "Running"])
def test_cancel_from_every_live_state(two_party, worker: FakeWorker, state: str) -> None:
    flow = two_party
    task_id = flow.create()
    flow.to(task_id, state, worker)
    flow.partner.refused("cancel_task", 403, "forbidden", task_id=task_id)  # not the creator
    flow.creator.call("cancel_task", task_id=task_id)
    result = flow.partner.call("get_task_result", task_id=task_id, timeout=0)
    assert (result["status"], result["status_code"]) == ("Canceled", 20)
    assert flow.creator.user_id in result["reason"]
    if state == "Running":
        attempt = _running(worker, task_id)
        assert not worker.queue.heartbeat(task_id, worker.worker_id, attempt)
        assert [run.task_id for run in worker.queue.canceled_running_tasks()] == [task_id]
        assert not worker.queue.finish(task_id, worker.worker_id, attempt, Outcome(return_value="1", tags={"out": TAG}))
        assert task_id not in [run.task_id for run in worker.queue.canceled_running_tasks()]
        assert status(flow.creator, task_id) == "Canceled"
    if state == "Staged":
        # A canceled task is never claimed. Other tests' tasks may be staged in the same database (on a
        # loaded machine a lease can lapse and re-stage one), so claim everything and look for this one.
        claimed = [staged.task_id for staged in iter(lambda: worker.queue.claim("w", 5), None)]
        assert task_id not in claimed


def test_admin_may_cancel_any_task(two_party, admin: Api) -> None:
    task_id = two_party.create()
    admin.call("cancel_task", task_id=task_id)
    assert status(admin, task_id) == "Canceled"


@pytest.mark.parametrize("ended", ["Finished", "Failed", "Canceled"])
def test_nothing_moves_an_ended_task(two_party, worker: FakeWorker, ended: str) -> None:
    flow = two_party
    task_id = flow.create()
    if ended == "Canceled":
        flow.creator.call("cancel_task", task_id=task_id)
    else:
        flow.to(task_id, "Running", worker)
        attempt = _running(worker, task_id)
        outcome = (
            Outcome(return_value="0", tags={"out": TAG})
            if ended == "Finished"
            else Outcome(failure_kind=TaskFailureKind.TIMEOUT, reason="slow")
        )
        assert worker.queue.finish(task_id, worker.worker_id, attempt, outcome)
    assert status(flow.creator, task_id) == ended
    for method, who in (("approve_task", flow.partner), ("invoke_task", flow.creator), ("cancel_task", flow.creator)):
        who.refused(method, 409, "task_ended", task_id=task_id)
    flow.creator.refused(
        "assign_data_to_task",
        409,
        "task_ended",
        task_id=task_id,
        inputs=[{"data_name": "in", "data_id": input_file(flow.creator)}],
    )
    assert status(flow.creator, task_id) == ended


@pytest.mark.parametrize("state", ["Approved", "Staged", "Running"])
def test_illegal_moves_from_later_states(two_party, worker: FakeWorker, state: str) -> None:
    flow = two_party
    task_id = flow.create()
    flow.to(task_id, state, worker)
    flow.partner.refused("approve_task", 409, "invalid_state", task_id=task_id)
    if state != "Approved":
        flow.creator.refused("invoke_task", 409, "invalid_state", task_id=task_id)
    flow.creator.refused(
        "assign_data_to_task",
        409,
        "invalid_state",
        task_id=task_id,
        inputs=[{"data_name": "in", "data_id": input_file(flow.creator)}],
    )
    assert status(flow.creator, task_id) == state


def test_illegal_moves_before_approval(two_party) -> None:
    flow = two_party
    task_id = flow.create()
    flow.creator.refused("approve_task", 409, "data_incomplete", task_id=task_id)
    flow.creator.refused("invoke_task", 409, "data_incomplete", task_id=task_id)
    flow.assign_all(task_id)
    flow.partner.refused("invoke_task", 403, "forbidden", task_id=task_id)  # only the creator invokes
    flow.creator.refused("invoke_task", 409, "not_approved", task_id=task_id)
    flow.creator.call("approve_task", task_id=task_id)
    flow.creator.refused("approve_task", 409, "already_approved", task_id=task_id)
    flow.creator.refused(
        "assign_data_to_task",
        409,
        "invalid_state",
        task_id=task_id,
        inputs=[{"data_name": "in", "data_id": input_file(flow.creator)}],
    )
    assert status(flow.creator, task_id) == "DataAssigned"


def test_lost_worker_is_retried_then_failed(two_party, worker: FakeWorker, storage: Storage) -> None:
    flow = two_party
    task_id = flow.create()
    flow.to(task_id, "Staged")
    queue = storage.queue
    for attempt in (1, 2):
        claimed = queue.claim(f"dies-{attempt}", 0.05)
        assert claimed is not None and claimed.task_id == task_id and claimed.attempt == attempt
        time.sleep(0.1)
        # Either this call or the server's own once-a-second sweep puts the task back.
        queue.requeue_expired(max_attempts=3)
        assert status(flow.creator, task_id) == "Staged"
        assert not queue.heartbeat(task_id, f"dies-{attempt}", attempt)  # the lost worker may not come back
    claimed = queue.claim("dies-3", 0.05)
    assert claimed is not None and claimed.attempt == 3
    time.sleep(0.1)
    queue.requeue_expired(max_attempts=3)
    result = flow.creator.call("get_task_result", task_id=task_id, timeout=0)
    assert (result["status"], result["failure_kind"]) == ("Failed", "worker_lost")
    assert not queue.finish(task_id, "dies-3", 3, Outcome(return_value="1", tags={"out": TAG}))


def test_only_one_claimer_wins(admin: Api, worker: FakeWorker, storage: Storage) -> None:
    owner = admin.new_user("FunctionOwner")
    function_id = register_function(owner)
    me = admin.new_user("DataOwner", "race")
    tasks = []
    for _ in range(6):
        task_id = me.call("create_task", function_id=function_id, executor="wamr")["task_id"]
        me.call("invoke_task", task_id=task_id)
        tasks.append(task_id)
    claimed: list[str] = []
    lock = threading.Lock()

    def claim_all(worker_id: str) -> None:
        while (task := storage.queue.claim(worker_id, 30)) is not None:
            with lock:
                claimed.append(task.task_id)

    threads = [threading.Thread(target=claim_all, args=(f"racer-{i}",)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(t for t in claimed if t in tasks) == sorted(tasks)
    assert len(claimed) == len(set(claimed))


def test_result_wait_wakes_when_another_process_finishes(two_party, worker: FakeWorker) -> None:
    flow = two_party
    task_id = flow.create()
    flow.to(task_id, "Running", worker)
    pending = flow.creator.call("get_task_result", task_id=task_id, timeout=0.2)
    assert pending == {"task_id": task_id, "done": False, "status": "Running", "status_code": 4}
    attempt = _running(worker, task_id)
    timer = threading.Timer(
        0.3, worker.queue.finish, (task_id, worker.worker_id, attempt, Outcome(return_value="9", tags={"out": TAG}))
    )
    timer.start()
    result = flow.creator.call("get_task_result", task_id=task_id, timeout=30)
    timer.join()
    assert result["done"] and result["return_value"] == "9"


def test_output_conflict_at_finish_fails_the_task(two_party, worker: FakeWorker) -> None:
    flow = two_party
    task_id = flow.create()
    flow.to(task_id, "Running", worker)
    attempt = _running(worker, task_id)
    assert not worker.queue.finish(task_id, worker.worker_id, attempt, Outcome(return_value="1", tags={}))
    result = flow.creator.call("get_task_result", task_id=task_id, timeout=0)
    assert (result["status"], result["failure_kind"]) == ("Failed", "output_error")
    assert "out" in result["reason"]
