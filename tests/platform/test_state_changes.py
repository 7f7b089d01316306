"""The state machine is enforced where the states change: in the database.

A trigger records every status a task row is given (its first on INSERT, then every change by any
UPDATE: the queue's raw SQL and the API's ORM writes alike). The tests drive every path that writes
a status (create, assign, approve, invoke, cancel, claim, heartbeat, begin_writes, finish in each of
its ways, requeue_expired, release_worker) and check each recorded change against
``teabox.platform.states.TRANSITIONS``, and that the paths together take every move the table allows.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
from sqlalchemy import text
from support.in_process import InProcessPlatform, open_app
from support.platform_api import Api, input_file, output_file, register_function

from teabox.failure_kinds import TaskFailureKind
from teabox.platform.queue import TaskQueue
from teabox.platform.staged import Outcome, StagedTask
from teabox.platform.states import TRANSITIONS, TaskStatus

# The last tests read what the earlier ones recorded: under pytest-xdist (--dist loadgroup) they all run
# in one process, in order.
pytestmark = pytest.mark.xdist_group("state-changes")

TAG = bytes(range(16))
# A lease that has lapsed by the time requeue_expired looks.
LAPSED = 0.001

_RECORDER = (
    "CREATE TABLE status_changes (seq INTEGER PRIMARY KEY AUTOINCREMENT, task_id TEXT, old TEXT, new TEXT)",
    "CREATE TRIGGER status_created AFTER INSERT ON tasks BEGIN "
    "INSERT INTO status_changes (task_id, old, new) VALUES (NEW.id, NULL, NEW.status); END",
    "CREATE TRIGGER status_changed AFTER UPDATE OF status ON tasks WHEN OLD.status IS NOT NEW.status BEGIN "
    "INSERT INTO status_changes (task_id, old, new) VALUES (OLD.id, OLD.status, NEW.status); END",
)


class Recorded:
    """The status changes the database saw, read since the last look."""

    def __init__(self, app: InProcessPlatform) -> None:
        self.database = app.storage.database
        with self.database.writing() as connection:
            for statement in _RECORDER:
                connection.execute(text(statement))
        self.seen = 0
        self.all: list[tuple[str, str | None, str]] = []

    def since_last(self) -> list[tuple[str | None, str]]:
        """The changes since the last look, each checked against the table as it is read."""
        with self.database.reading() as connection:
            rows = connection.execute(
                text("SELECT seq, task_id, old, new FROM status_changes WHERE seq > :seen ORDER BY seq"),
                {"seen": self.seen},
            ).all()
        if rows:
            self.seen = rows[-1].seq
        self.all += [(row.task_id, row.old, row.new) for row in rows]
        for row in rows:
            if row.old is None:
                assert row.new == S.CREATED, f"task {row.task_id} was created {row.new}"
            else:
                assert S(row.new) in TRANSITIONS[S(row.old)], f"task {row.task_id} moved {row.old} -> {row.new}"
        return [(row.old, row.new) for row in rows]


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[InProcessPlatform]:
    with open_app(tmp_path_factory.mktemp("state-changes") / "data") as running:
        yield running


@pytest.fixture(scope="module")
def recorded(app: InProcessPlatform) -> Recorded:
    return Recorded(app)


@pytest.fixture(scope="module")
def people(app: InProcessPlatform) -> dict[str, Api]:
    admin = Api(app.url, http=app.http).login(app.admin_id, app.admin_password)
    return {
        "admin": admin,
        "owner": admin.new_user("FunctionOwner"),
        "creator": admin.new_user("DataOwner", "a"),
        "partner": admin.new_user("DataOwner", "b"),
    }


@pytest.fixture
def queue(app: InProcessPlatform) -> Iterator[TaskQueue]:
    """The queue; afterwards no task is left staged or running for the next test's claim to meet."""
    queue = app.storage.queue
    yield queue
    with app.storage.database.writing() as connection:
        connection.execute(text("UPDATE tasks SET lease_expires_at = 0 WHERE worker_id IS NOT NULL"))
    queue.requeue_expired(max_attempts=1)
    while (left := queue.claim("sweeper", 30)) is not None:
        queue.finish(left.task_id, "sweeper", left.attempt, Outcome(failure_kind=TaskFailureKind.HOST_ERROR))


class Tasks:
    """Tasks of a few shapes, made through the API."""

    def __init__(self, people: dict[str, Api]) -> None:
        self.creator, self.partner = people["creator"], people["partner"]
        owner = people["owner"]
        self.no_data = register_function(owner)
        self.with_data = register_function(
            owner, inputs=[{"name": "in", "description": ""}], outputs=[{"name": "out", "description": ""}]
        )

    def alone(self, *, with_data: bool = False) -> str:
        """A task of the creator alone; with data, its input and output are assigned already."""
        if not with_data:
            return self.creator.call("create_task", function_id=self.no_data)["task_id"]
        task_id = self.creator.call(
            "create_task",
            function_id=self.with_data,
            inputs_ownership=[{"data_name": "in", "uids": [self.creator.user_id]}],
            outputs_ownership=[{"data_name": "out", "uids": [self.creator.user_id]}],
        )["task_id"]
        self.creator.call(
            "assign_data_to_task",
            task_id=task_id,
            inputs=[{"data_name": "in", "data_id": input_file(self.creator)}],
            outputs=[{"data_name": "out", "data_id": output_file(self.creator)}],
        )
        return task_id

    def shared(self) -> str:
        """A task of two participants: the creator's input, the partner's output, nothing assigned."""
        return self.creator.call(
            "create_task",
            function_id=self.with_data,
            inputs_ownership=[{"data_name": "in", "uids": [self.creator.user_id]}],
            outputs_ownership=[{"data_name": "out", "uids": [self.partner.user_id]}],
        )["task_id"]

    def assign_shared(self, task_id: str) -> None:
        self.creator.call(
            "assign_data_to_task", task_id=task_id, inputs=[{"data_name": "in", "data_id": input_file(self.creator)}]
        )
        self.partner.call(
            "assign_data_to_task",
            task_id=task_id,
            outputs=[{"data_name": "out", "data_id": output_file(self.partner)}],
        )

    def invoke(self, task_id: str) -> None:
        self.creator.call("invoke_task", task_id=task_id)


@pytest.fixture(scope="module")
def tasks(people: dict[str, Api]) -> Tasks:
    return Tasks(people)


def claim(queue: TaskQueue, task_id: str, worker_id: str = "w", lease: float = 30.0) -> StagedTask:
    run = queue.claim(worker_id, lease)
    assert run is not None and run.task_id == task_id
    return run


S = TaskStatus
C, DA, AP, ST, RU = S.CREATED, S.DATA_ASSIGNED, S.APPROVED, S.STAGED, S.RUNNING
FI, CA, FA = S.FINISHED, S.CANCELED, S.FAILED


def test_the_api_moves_tasks_to_the_queue(recorded: Recorded, tasks: Tasks, queue: TaskQueue) -> None:
    task_id = tasks.shared()
    tasks.assign_shared(task_id)
    tasks.creator.call("approve_task", task_id=task_id)
    tasks.partner.call("approve_task", task_id=task_id)
    tasks.invoke(task_id)
    assert recorded.since_last() == [(None, C), (C, DA), (DA, AP), (AP, ST)]

    tasks.invoke(tasks.alone())
    tasks.invoke(tasks.alone(with_data=True))
    assert recorded.since_last() == [(None, C), (C, ST), (None, C), (C, DA), (DA, ST)]

    approved = tasks.alone()
    tasks.creator.call("approve_task", task_id=approved)  # no data to wait for: approved at once
    assert recorded.since_last() == [(None, C), (C, AP)]
    tasks.creator.refused("invoke_task", 409, "data_incomplete", task_id=tasks.shared())  # nothing moves
    assert recorded.since_last() == [(None, C)]


def test_claim_heartbeat_begin_writes_and_finish(recorded: Recorded, tasks: Tasks, queue: TaskQueue) -> None:
    ok, failed, conflict = (tasks.alone(with_data=True) for _ in range(3))
    for task_id in (ok, failed, conflict):
        tasks.invoke(task_id)
    recorded.since_last()

    run = claim(queue, ok)
    assert queue.heartbeat(ok, "w", run.attempt)
    assert queue.begin_writes(ok, "w", run.attempt) is None
    assert queue.finish(ok, "w", run.attempt, Outcome(return_value="0", tags={"out": TAG}))
    assert not queue.finish(ok, "w", run.attempt, Outcome(return_value="0", tags={"out": TAG}))  # ended: refused
    assert not queue.heartbeat(ok, "w", run.attempt)
    assert recorded.since_last() == [(ST, RU), (RU, FI)]

    run = claim(queue, failed)
    assert queue.finish(failed, "w", run.attempt, Outcome(failure_kind=TaskFailureKind.TRAP, reason="trap"))
    assert recorded.since_last() == [(ST, RU), (RU, FA)]

    run = claim(queue, conflict)
    assert not queue.finish(conflict, "w", run.attempt, Outcome(return_value="0", tags={}))  # no tag for 'out'
    assert recorded.since_last() == [(ST, RU), (RU, FA)]
    assert tasks.creator.call("get_task_result", task_id=conflict, timeout=0)["failure_kind"] == "output_error"


def test_lost_workers_are_retried_then_given_up(recorded: Recorded, tasks: Tasks, queue: TaskQueue) -> None:
    task_id = tasks.alone()
    tasks.invoke(task_id)
    recorded.since_last()
    first = claim(queue, task_id, "lost", LAPSED)
    time.sleep(LAPSED * 10)
    assert queue.requeue_expired(max_attempts=2) == 1
    second = claim(queue, task_id, "dead")
    assert queue.release_worker("dead") == 1
    assert queue.requeue_expired(max_attempts=2) == 1
    assert not queue.heartbeat(task_id, "lost", first.attempt)
    assert not queue.finish(task_id, "dead", second.attempt, Outcome(return_value="0"))
    assert recorded.since_last() == [(ST, RU), (RU, ST), (ST, RU), (RU, FA)]
    assert tasks.creator.call("get_task_result", task_id=task_id, timeout=0)["failure_kind"] == "worker_lost"


def test_cancel_from_every_live_state(recorded: Recorded, tasks: Tasks, queue: TaskQueue) -> None:
    created, assigned, approved, staged, running = (tasks.shared() for _ in range(5))
    for task_id in (assigned, approved, staged, running):
        tasks.assign_shared(task_id)
    for task_id in (approved, staged, running):
        tasks.creator.call("approve_task", task_id=task_id)
        tasks.partner.call("approve_task", task_id=task_id)
    for task_id in (running, staged):
        tasks.invoke(task_id)
    run = claim(queue, running)  # the older of the two
    recorded.since_last()
    for task_id in (created, assigned, approved, staged, running):
        tasks.creator.call("cancel_task", task_id=task_id)
    assert recorded.since_last() == [(C, CA), (DA, CA), (AP, CA), (ST, CA), (RU, CA)]
    assert not queue.heartbeat(running, "w", run.attempt)
    assert running in {active.task_id for active in queue.canceled_running_tasks()}
    assert not queue.finish(running, "w", run.attempt, Outcome(return_value="0", tags={"out": TAG}))
    assert queue.claim("w", 30) is None  # the canceled staged task is not handed out
    assert queue.requeue_expired() == 0
    for task_id in (created, running):
        tasks.creator.refused("cancel_task", 409, "task_ended", task_id=task_id)
        tasks.creator.refused("invoke_task", 409, "task_ended", task_id=task_id)
    assert recorded.since_last() == []


def test_the_paths_above_made_every_move_of_the_table(recorded: Recorded) -> None:
    """Over the tests above (pytest runs a module's tests in order), and the sweeps between them."""
    recorded.since_last()
    changes = {(old, new) for _, old, new in recorded.all}
    assert {new for old, new in changes if old is None} == {C}, "every task starts Created"
    made = {(S(old), S(new)) for old, new in changes if old is not None}
    illegal = {(old, new) for old, new in made if new not in TRANSITIONS[old]}
    assert not illegal, f"moves outside the state table: {sorted(illegal)}"
    allowed = {(old, new) for old, targets in TRANSITIONS.items() for new in targets}
    assert made == allowed, f"moves the table allows that no path made: {sorted(allowed - made)}"


class _Undo(Exception):
    """Rolls back the deliberately illegal write below."""


def test_the_recorder_sees_a_move_outside_the_table(app: InProcessPlatform) -> None:
    """The checks above can fail: a raw write that moves an ended task is recorded like any other."""
    with pytest.raises(_Undo), app.storage.database.writing() as connection:
        task_id = connection.execute(text("SELECT id FROM tasks WHERE status = 'Finished' LIMIT 1")).scalar_one()
        connection.execute(text("UPDATE tasks SET status = 'Running' WHERE id = :id"), {"id": task_id})
        seen = connection.execute(
            text("SELECT old, new FROM status_changes WHERE task_id = :id ORDER BY seq DESC LIMIT 1"), {"id": task_id}
        ).one()
        raise _Undo
    assert (seen.old, seen.new) == (FI, RU) and RU not in TRANSITIONS[FI]
