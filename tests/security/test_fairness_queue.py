"""Fairness: one user's flood of tasks neither fills the queue nor makes another user's task wait behind it.

Reproduces finding 12 (150 tasks of one user made another user's task wait
88 s behind them). Tasks are invoked through the real HTTP service; the
claims are made through the real queue, as a worker makes them, so that each
test asserts the ORDER in which tasks are handed out, never a duration.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack

import pytest
import wasmtime

from teabox.client import Client
from teabox.client.errors import ApiError
from teabox.platform.staged import Outcome, StagedTask
from teabox.platform.storage import Storage
from teabox.testing.local_server import LocalServer

# Its tests share module-scoped servers: one pytest-xdist process runs them all, so each starts once.
pytestmark = pytest.mark.xdist_group("fairness_queue")

QUEUED_CAP = 5
TRIVIAL = bytes(
    wasmtime.wat2wasm(
        '(module (memory (export "memory") 1) (func (export "entrypoint") (param i32 i32) (result i32) (i32.const 0)))'
    )
)
ENDLESS = bytes(
    wasmtime.wat2wasm(
        '(module (memory (export "memory") 1) (func (export "entrypoint") (param i32 i32) (result i32) (loop $l (br $l)) (i32.const 0)))'
    )
)


class Platform:
    """A service without workers (the test claims), its admin, a public function, and the queue."""

    def __init__(self, server: LocalServer) -> None:
        self.server = server
        # The clients of the module's users, closed with the platform.
        self._clients = ExitStack()
        self.admin = self._clients.enter_context(Client(server.url))
        self.admin.user_login(server.admin_id, server.admin_password)
        self._users = 0
        vendor = self.user("vendor", "FunctionOwner")
        self.function_id = vendor.register_function("noop", "returns 0", "wamr", payload=TRIVIAL)
        self.storage = Storage.open(server.data_dir, migrate=False, database_url=server.database_url)
        self.queue = self.storage.queue

    def user(self, prefix: str, role: str = "DataOwner") -> Client:
        self._users += 1
        user_id = f"{prefix}-{self._users}"
        self.admin.user_register(user_id, f"password-{user_id}", role, "fair" if role == "DataOwner" else "")
        client = self._clients.enter_context(Client(self.server.url))
        client.user_login(user_id, f"password-{user_id}")
        return client

    def invoke(self, client: Client, count: int = 1) -> list[str]:
        tasks = []
        for _ in range(count):
            task_id = client.create_task(self.function_id)
            client.invoke_task(task_id)
            tasks.append(task_id)
        return tasks

    def claim(self, max_running_per_user: int | None = None) -> StagedTask | None:
        return self.queue.claim("fair-worker", 30.0, max_running_per_user)

    def finish(self, task: StagedTask) -> None:
        assert self.queue.finish(task.task_id, "fair-worker", task.attempt, Outcome(return_value="0"))

    def drain(self) -> None:
        """Run out whatever an earlier test left queued, so each test sees only its own tasks."""
        while (left := self.claim()) is not None:
            self.finish(left)

    def close(self) -> None:
        self.storage.close()
        self._clients.close()


@pytest.fixture(scope="module")
def platform(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Platform]:
    server = LocalServer(
        tmp_path_factory.mktemp("fair") / "data", workers=0, extra_args=("--max-queued-per-user", str(QUEUED_CAP))
    )
    server.start()
    opened = Platform(server)
    try:
        yield opened
    finally:
        opened.close()
        server.stop()


def test_with_one_worker_users_take_turns(platform: Platform) -> None:
    platform.drain()
    flood, other = platform.user("flood"), platform.user("other")
    flooded = platform.invoke(flood, 4)
    (waiting,) = platform.invoke(other)
    order = []
    while (task := platform.claim()) is not None:  # one worker: each task ends before the next claim
        order.append(task.task_id)
        platform.finish(task)
    # The flood's first task was first in the queue; the other user's task comes next, not after the flood.
    assert order == [flooded[0], waiting, *flooded[1:]]


def test_a_busy_flood_yields_the_next_free_worker_to_another_user(platform: Platform) -> None:
    platform.drain()
    flood, other = platform.user("flood"), platform.user("other")
    flooded = platform.invoke(flood, 4)
    first, second = platform.claim(), platform.claim()  # two workers, both on the flood
    assert first is not None and second is not None
    (waiting,) = platform.invoke(other)
    platform.finish(first)
    following = platform.claim()  # the flood has a task running, the other user none
    assert following is not None and following.task_id == waiting
    platform.finish(second)
    platform.finish(following)
    assert [task.task_id for task in (first, second)] == flooded[:2]
    platform.drain()


def test_a_user_at_the_running_cap_is_passed_over(platform: Platform) -> None:
    platform.drain()
    flood, other = platform.user("flood"), platform.user("other")
    flooded = platform.invoke(flood, 3)
    running = [platform.claim(max_running_per_user=2), platform.claim(max_running_per_user=2)]
    assert [task.task_id for task in running if task is not None] == flooded[:2]
    assert platform.claim(max_running_per_user=2) is None, "a third task of the same user was handed out"
    (waiting,) = platform.invoke(other)
    claimed = platform.claim(max_running_per_user=2)
    assert claimed is not None and claimed.task_id == waiting
    for task in running:
        assert task is not None
        platform.finish(task)
    platform.finish(claimed)
    last = platform.claim(max_running_per_user=2)
    assert last is not None and last.task_id == flooded[2]
    platform.finish(last)


def test_invoking_beyond_the_queued_cap_is_refused_naming_the_cap(platform: Platform) -> None:
    platform.drain()
    flood = platform.user("flood")
    platform.invoke(flood, QUEUED_CAP)
    extra = flood.create_task(platform.function_id)
    with pytest.raises(ApiError) as refused:
        flood.invoke_task(extra)
    assert refused.value.status == 409 and refused.value.code == "queued_cap_reached"
    assert f"{QUEUED_CAP} tasks" in str(refused.value) and "--max-queued-per-user" in str(refused.value)
    assert flood.get_task(extra).status == "Created", "the refused task is kept, ready to invoke later"
    # Another user is not affected by this user's full queue, and once a task starts the extra one goes in.
    platform.invoke(platform.user("other"))
    started = platform.claim()
    assert started is not None
    flood.invoke_task(extra)
    platform.finish(started)
    platform.drain()


def test_serve_passes_the_running_cap_to_its_workers(
    tmp_path_factory: pytest.TempPathFactory, closer: ExitStack
) -> None:
    server = LocalServer(
        tmp_path_factory.mktemp("capped") / "data", workers=2, extra_args=("--max-running-per-user", "1")
    )
    server.start()
    try:
        with Client(server.url) as admin:
            admin.user_login(server.admin_id, server.admin_password)
            for user_id, role, attribute in (
                ("v", "FunctionOwner", ""),
                ("busy", "DataOwner", "a"),
                ("calm", "DataOwner", "a"),
            ):
                admin.user_register(user_id, f"password-{user_id}", role, attribute)
        clients = {}
        for user_id in ("v", "busy", "calm"):
            clients[user_id] = closer.enter_context(Client(server.url))
            clients[user_id].user_login(user_id, f"password-{user_id}")
        endless = clients["v"].register_function(
            "spin", "never returns", "wamr", payload=ENDLESS, limits={"timeout_seconds": 120}
        )
        trivial = clients["v"].register_function("noop", "returns 0", "wamr", payload=TRIVIAL)
        busy, calm = clients["busy"], clients["calm"]
        spinning = busy.create_task(endless)
        busy.invoke_task(spinning)
        while busy.get_task(spinning).status != "Running":
            busy.poll_task_result(spinning, 0.2)
        held_back = busy.create_task(trivial)
        busy.invoke_task(held_back)
        served = calm.create_task(trivial)
        calm.invoke_task(served)
        calm.wait_for_task(served, 120)
        # A worker was free all along, yet the busy user's second task waits: one of theirs is running.
        assert busy.get_task(held_back).status == "Staged"
        busy.cancel_task(spinning)
        busy.wait_for_task(held_back, 120)
    finally:
        server.stop()
