"""The queue's claim and finish on both databases: what a claim hands over, in whose turn, and at what cost.

The cost is counted in round trips (statements, BEGIN/COMMIT/ROLLBACK and the
pool's liveness check), which do not depend on how loaded the machine is.
"""

from __future__ import annotations

import threading
from collections import Counter

import pytest
from support.backends import InProcess, platform_admin
from support.round_trips import RoundTrips

from teabox.platform import queue
from teabox.platform.core import Platform
from teabox.platform.staged import Outcome
from teabox.platform.storage import Storage

CLAIM_ROUND_TRIPS = FINISH_ROUND_TRIPS = 2


@pytest.fixture
def admin(fresh_storage: Storage) -> InProcess:
    return platform_admin(Platform(fresh_storage))


def stage(owner: InProcess, user: InProcess, function_id: str | None = None) -> str:
    task_id = user.task(function_id or owner.function())
    user.call("invoke_task", task_id=task_id)
    return task_id


def test_a_claim_hands_over_the_task_with_its_files_and_keys(fresh_storage: Storage, admin: InProcess) -> None:
    owner, user = admin.new_user("FunctionOwner"), admin.new_user("DataOwner-org")
    function_id = owner.function(inputs=("in",), outputs=("out",))
    task_id = user.task(function_id, inputs={"in": [user.user_id]}, outputs={"out": [user.user_id]})
    input_id = user.call(
        "register_input_file",
        url="https://files.example/in.enc",
        schema="aes-gcm-256",
        key="ab" * 32,
        iv="cd" * 12,
        cmac="ef" * 16,
    )["data_id"]
    output_id = user.output_file()
    user.call(
        "assign_data_to_task",
        task_id=task_id,
        inputs=[{"data_name": "in", "data_id": input_id}],
        outputs=[{"data_name": "out", "data_id": output_id}],
    )
    user.call("approve_task", task_id=task_id)
    user.call("invoke_task", task_id=task_id)
    run = fresh_storage.queue.claim("w1", lease_seconds=30)
    assert run is not None and (run.task_id, run.attempt, run.function_id) == (task_id, 1, function_id)
    [given] = run.inputs
    assert (given.data_name, given.file_id, given.url, given.cmac) == (
        "in",
        input_id,
        "https://files.example/in.enc",
        bytes.fromhex("ef" * 16),
    )
    assert (given.crypto.schema, given.crypto.key, given.crypto.iv) == (
        "aes-gcm-256",
        bytes.fromhex("ab" * 32),
        bytes.fromhex("cd" * 12),
    )
    [taken] = run.outputs
    assert (taken.data_name, taken.file_id, taken.crypto.schema, taken.crypto.key) == (
        "out",
        output_id,
        "aes-gcm-128",
        bytes(16),
    )
    assert fresh_storage.queue.claim("w2", lease_seconds=30) is None


def test_users_take_turns_and_a_user_at_the_cap_is_passed_over(fresh_storage: Storage, admin: InProcess) -> None:
    owner = admin.new_user("FunctionOwner")
    flood, other = admin.new_user("DataOwner-org"), admin.new_user("DataOwner-org")
    function_id = owner.function()
    flooded = [stage(owner, flood, function_id) for _ in range(3)]
    late = stage(owner, other, function_id)
    order = [fresh_storage.queue.claim(f"w{n}", lease_seconds=30) for n in range(2)]
    assert [run.task_id for run in order if run is not None] == [flooded[0], late]
    assert fresh_storage.queue.claim("w9", lease_seconds=30, max_running_per_user=1) is None, "the flood is at its cap"
    following = fresh_storage.queue.claim("w9", lease_seconds=30, max_running_per_user=2)
    assert following is not None and following.task_id == flooded[1]


def test_concurrent_claimers_take_each_task_once_and_leave_none_behind(
    fresh_storage: Storage, admin: InProcess
) -> None:
    owner, user = admin.new_user("FunctionOwner"), admin.new_user("DataOwner-org")
    function_id = owner.function()
    staged = {stage(owner, user, function_id) for _ in range(24)}
    claimed: Counter[str] = Counter()
    lock = threading.Lock()

    def claimer(worker_id: str) -> None:
        while (run := fresh_storage.queue.claim(worker_id, lease_seconds=30)) is not None:
            with lock:
                claimed[run.task_id] += 1

    threads = [threading.Thread(target=claimer, args=(f"w{n}",)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert set(claimed) == staged and set(claimed.values()) == {1}


def test_claim_heartbeat_and_finish_take_at_most_two_round_trips_each(fresh_storage: Storage, admin: InProcess) -> None:
    owner, user = admin.new_user("FunctionOwner"), admin.new_user("DataOwner-org")
    function_id = owner.function()
    for ending in (Outcome(return_value=b"7"), Outcome(reason="it failed")):
        task_id = stage(owner, user, function_id)
        trips = RoundTrips(fresh_storage.database)
        with trips.counting():
            run = fresh_storage.queue.claim("w1", lease_seconds=30)
        assert run is not None and run.task_id == task_id
        assert trips.count <= CLAIM_ROUND_TRIPS, f"claim took {trips.count} round trips"
        with trips.counting():
            assert fresh_storage.queue.heartbeat(task_id, "w1", run.attempt)
        assert trips.count <= 2, f"heartbeat took {trips.count} round trips"
        with trips.counting():
            assert fresh_storage.queue.finish(task_id, "w1", run.attempt, ending)
        assert trips.count <= FINISH_ROUND_TRIPS, f"finish took {trips.count} round trips"
    with trips.counting():
        assert fresh_storage.queue.claim("w1", lease_seconds=30) is None
    assert trips.count <= CLAIM_ROUND_TRIPS


def test_a_finish_without_the_tags_of_its_outputs_fails_the_task(fresh_storage: Storage, admin: InProcess) -> None:
    """The one-statement finish is only for tasks without outputs; one with outputs still needs every tag."""
    owner, user = admin.new_user("FunctionOwner"), admin.new_user("DataOwner-org")
    task_id = user.task(owner.function(outputs=("out",)), outputs={"out": [user.user_id]})
    user.call("assign_data_to_task", task_id=task_id, outputs=[{"data_name": "out", "data_id": user.output_file()}])
    user.call("approve_task", task_id=task_id)
    user.call("invoke_task", task_id=task_id)
    run = fresh_storage.queue.claim("w1", lease_seconds=30)
    assert run is not None
    assert not fresh_storage.queue.finish(task_id, "w1", run.attempt, Outcome(return_value=b"7"))
    result = user.call("get_task_result", task_id=task_id, timeout=0)
    assert (result["status"], result["failure_kind"]) == ("Failed", "output_error")
    assert "no 16-byte tag" in result["reason"]


def test_the_queue_statements_are_compiled_once() -> None:
    """Each has a cache key: otherwise SQLAlchemy compiles it again for every task, which costs more than running it."""
    for statement in (queue._CLAIM, queue._CLAIM_AND_SERVE, queue._SERVED, queue._HEARTBEAT, queue._FINISH_ALONE):
        assert statement._generate_cache_key() is not None


def test_a_claim_tells_whether_another_task_was_left_staged(fresh_storage: Storage, admin: InProcess) -> None:
    owner, user = admin.new_user("FunctionOwner"), admin.new_user("DataOwner-org")
    function_id = owner.function()
    staged = [stage(owner, user, function_id) for _ in range(2)]
    taken = [fresh_storage.queue.claim_telling_more(f"w{n}", lease_seconds=30) for n in range(3)]
    assert [(run.task_id if run else None, more) for run, more in taken] == [
        (staged[0], True),
        (staged[1], False),
        (None, False),
    ]
