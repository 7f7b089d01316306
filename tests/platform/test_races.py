"""Races that SQLite's single writer hides, each played with two concurrent transactions on both databases.

Each test runs one operation up to the point just before its commit and holds
its transaction open (:func:`held`) while a second call, in another thread,
does what a second API server or a worker would do at that moment. On SQLite
the second call waits for the write lock; on PostgreSQL it runs at once
unless the first took a row lock, which is what the fixes add. Either way the
outcome must be one of the outcomes the two calls could have in some order.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, func, select, text
from sqlalchemy.exc import DBAPIError
from support.backends import BACKENDS, InProcess, database_url, platform_admin
from support.postgres import PostgresCluster

from teabox.platform.conflicts import is_lost_race, lost_race
from teabox.platform.context import OPERATIONS, Resources
from teabox.platform.core import Platform
from teabox.platform.errors import PlatformError, StateConflict
from teabox.platform.models import Function, Task, TaskData, User
from teabox.platform.staged import Outcome
from teabox.platform.storage import Storage
from teabox.service.schemas import ENDPOINTS, params_of

# Only to keep a broken test from hanging: a blocked call normally waits a fraction of a second.
HANG_SECONDS = 60.0


@pytest.fixture(params=BACKENDS)
def platforms(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[Platform, Platform]]:
    """Two platforms on one database, as two API servers (or a server and a worker) would share it."""
    cluster = request.getfixturevalue("postgres_cluster") if request.param == "postgres" else None
    url = database_url(request.param, cluster)
    first = Storage.open(tmp_path / "data", database_url=url)
    second = Storage.open(tmp_path / "data", database_url=url)
    try:
        yield Platform(first), Platform(second)
    finally:
        second.close()
        first.close()


class Contender(threading.Thread):
    """The second call, run in a thread: its result, or the refusal it raised."""

    def __init__(self, call: Callable[[], Any]) -> None:
        super().__init__(daemon=True)
        self._call = call
        self.result: Any = None
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            self.result = self._call()
        except BaseException as exc:
            self.error = exc

    def outcome(self) -> Any:
        self.join(HANG_SECONDS)
        assert not self.is_alive(), "the second call never ended"
        if self.error is not None:
            raise self.error
        return self.result


@contextmanager
def held(platform: Platform, user: InProcess, name: str, /, *, flush: bool = False, **body: Any) -> Iterator[None]:
    """Run operation ``name`` as the service does, and keep its transaction open (uncommitted) while the block runs.

    ``flush`` sends its changes to the database before holding (as a longer
    operation's later queries would); without it they go with the commit.
    """
    operation = OPERATIONS[name]
    params = params_of(ENDPOINTS[name].model_validate(body))
    storage = platform.storage
    if operation.prepare is not None:
        params = operation.prepare(Resources(storage.database, storage.blobs, platform.settings), params)
    with storage.database.write() as session:
        operation.handler(platform._ctx(session, user.actor, time.time()), **params)
        if flush:
            session.flush()
        yield


def contend(storage: Storage, call: Callable[[], Any]) -> Contender:
    """Start ``call`` in a thread and return once it has either ended or is waiting for a lock."""
    contender = Contender(call)
    contender.start()
    if storage.database.is_sqlite:
        # SQLite shows no waiters; the first transaction holds the write lock, so the call cannot get past it.
        contender.join(0.3)
        return contender
    waiting = text(
        "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'"
    )
    deadline = time.monotonic() + HANG_SECONDS
    with storage.database.engine.connect() as probe:
        while contender.is_alive() and time.monotonic() < deadline:
            if probe.execute(waiting).scalar_one() > 0:
                break
            probe.rollback()
            time.sleep(0.01)
    return contender


def refusal(contender: Contender) -> PlatformError:
    with pytest.raises(PlatformError) as refused:
        contender.outcome()
    return refused.value


def status_of(platform: Platform, task_id: str) -> str:
    with platform.storage.database.reading() as connection:
        return str(connection.scalar(select(Task.status).where(Task.id == task_id)))


@pytest.fixture
def people(platforms: tuple[Platform, Platform]) -> tuple[InProcess, InProcess]:
    """A function owner and a data owner on the first platform."""
    admin = platform_admin(platforms[0])
    return admin.new_user("FunctionOwner"), admin.new_user("DataOwner-org")


def staged_task(owner: InProcess, user: InProcess) -> str:
    task_id = user.task(owner.function())
    user.call("invoke_task", task_id=task_id)
    return task_id


def test_cancel_held_open_makes_a_concurrent_finish_unrecorded(
    platforms: tuple[Platform, Platform], people: tuple[InProcess, InProcess]
) -> None:
    """The worker is never told "recorded" for a result that a cancel then overwrites."""
    api, worker_side = platforms
    owner, user = people
    task_id = staged_task(owner, user)
    queue = worker_side.storage.queue
    run = queue.claim("w1", lease_seconds=60)
    assert run is not None and run.task_id == task_id
    with held(api, user, "cancel_task", task_id=task_id):
        finish = contend(
            worker_side.storage, lambda: queue.finish(task_id, "w1", run.attempt, Outcome(return_value=b"done"))
        )
    recorded = finish.outcome()
    assert (recorded, status_of(api, task_id)) == (False, "Canceled")


def test_finish_first_makes_a_cancel_refused(
    platforms: tuple[Platform, Platform], people: tuple[InProcess, InProcess]
) -> None:
    api, worker_side = platforms
    owner, user = people
    task_id = staged_task(owner, user)
    queue = worker_side.storage.queue
    run = queue.claim("w1", lease_seconds=60)
    assert run is not None
    assert queue.finish(task_id, "w1", run.attempt, Outcome(return_value=b"done"))
    with pytest.raises(StateConflict):
        user.call("cancel_task", task_id=task_id)
    assert status_of(api, task_id) == "Finished"


def test_one_output_is_never_bound_to_two_live_tasks(
    platforms: tuple[Platform, Platform], people: tuple[InProcess, InProcess]
) -> None:
    api, other = platforms
    owner, user = people
    function_id = owner.function(outputs=("out",))
    first, second = (user.task(function_id, outputs={"out": [user.user_id]}) for _ in range(2))
    output = user.output_file()
    user_elsewhere = user.on(other)
    assign = {"outputs": [{"data_name": "out", "data_id": output}]}
    with held(api, user, "assign_data_to_task", task_id=first, **assign):
        racing = contend(other.storage, lambda: user_elsewhere.call("assign_data_to_task", task_id=second, **assign))
    assert refusal(racing).code == "output_already_assigned"
    with api.storage.database.reading() as connection:
        bound = connection.execute(select(TaskData.task_id).where(TaskData.file_id == output)).scalars().all()
    assert bound == [first]
    assert (status_of(api, first), status_of(api, second)) == ("DataAssigned", "Created")


def test_a_double_invoke_counts_and_stages_once(
    platforms: tuple[Platform, Platform], people: tuple[InProcess, InProcess]
) -> None:
    api, other = platforms
    owner, user = people
    function_id = owner.function(usage_quota=5)
    task_id = user.task(function_id)
    user_elsewhere = user.on(other)
    with held(api, user, "invoke_task", task_id=task_id):
        racing = contend(other.storage, lambda: user_elsewhere.call("invoke_task", task_id=task_id))
    assert refusal(racing).code == "invalid_state"
    with api.storage.database.reading() as connection:
        used = connection.scalar(select(Function.usage_count).where(Function.id == function_id))
    assert (used, status_of(api, task_id)) == (1, "Staged")


def test_concurrent_approvals_leave_the_task_approved(
    platforms: tuple[Platform, Platform], people: tuple[InProcess, InProcess]
) -> None:
    api, other = platforms
    owner, creator = people
    admin = platform_admin(api)
    data_owner = admin.new_user("DataOwner-org")
    function_id = owner.function(inputs=("in",))
    task_id = creator.task(function_id, inputs={"in": [data_owner.user_id]})
    input_id = data_owner.call(
        "register_input_file",
        url="https://files.example/in.enc",
        schema="teaclave-file-128",
        key="00" * 16,
        iv="",
        cmac="11" * 16,
    )["data_id"]
    data_owner.call("assign_data_to_task", task_id=task_id, inputs=[{"data_name": "in", "data_id": input_id}])
    creator_elsewhere = creator.on(other)
    with held(api, data_owner, "approve_task", task_id=task_id, flush=True):
        racing = contend(other.storage, lambda: creator_elsewhere.call("approve_task", task_id=task_id))
    assert racing.outcome() == {}
    assert status_of(api, task_id) == "Approved"


def test_a_duplicate_key_race_is_a_clean_conflict(
    platforms: tuple[Platform, Platform], people: tuple[InProcess, InProcess]
) -> None:
    """Two servers registering one user id: one succeeds, the other gets a 409, never an internal error."""
    api, other = platforms
    admin = platform_admin(api)
    admin_elsewhere = admin.on(other)
    body = {"user_id": "same-id", "password": "correct horse battery", "role": "FunctionOwner"}
    with held(api, admin, "user_register", flush=True, **body):
        racing = contend(other.storage, lambda: admin_elsewhere.call("user_register", **body))
    refused = refusal(racing)
    assert refused.status == 409
    assert refused.code == ("already_exists" if api.storage.database.is_sqlite else "concurrent_change")
    assert "try again" in refused.message or "already exists" in refused.message
    with api.storage.database.reading() as connection:
        assert connection.scalar(select(func.count()).where(User.id == "same-id")) == 1


def test_a_deadlock_postgresql_breaks_is_a_lost_race(postgres_cluster: PostgresCluster) -> None:
    """Two transactions locking two rows in opposite orders: PostgreSQL aborts one, which the platform answers as 409."""
    engine = create_engine(postgres_cluster.url("postgres"))
    try:
        table = f"pair_{time.monotonic_ns()}"
        with engine.begin() as setup:
            setup.execute(text(f"CREATE TABLE {table} (id int PRIMARY KEY)"))
            setup.execute(text(f"INSERT INTO {table} VALUES (1), (2)"))
        first, second = engine.connect(), engine.connect()
        lock = text(f"SELECT id FROM {table} WHERE id = :id FOR UPDATE")
        first.execute(lock, {"id": 1})
        second.execute(lock, {"id": 2})
        crossing = Contender(lambda: first.execute(lock, {"id": 2}))
        crossing.start()
        errors: list[BaseException] = []
        try:
            second.execute(lock, {"id": 1})
        except DBAPIError as exc:
            errors.append(exc)
            second.rollback()
        try:
            crossing.outcome()
        except DBAPIError as exc:
            errors.append(exc)
        first.rollback()
        first.close()
        second.close()
        assert len(errors) == 1 and is_lost_race(errors[0])
        assert lost_race("assign_data_to_task").status == 409
        with engine.begin() as cleanup:
            cleanup.execute(text(f"DROP TABLE {table}"))
    finally:
        engine.dispose()
