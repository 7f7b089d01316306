"""A platform server without workers (tests drive the queue themselves) and users of every role."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from platform_support import Api, FakeWorker, start_server

from teabox.client.local_server import LocalServer
from teabox.failure_kinds import TaskFailureKind
from teabox.platform.staged import Outcome
from teabox.platform.storage import Storage


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory, new_database: Callable[[], str | None]) -> Iterator[LocalServer]:
    running = start_server(tmp_path_factory.mktemp("service") / "data", database_url=new_database())
    yield running
    running.stop()


@pytest.fixture(scope="session")
def admin(server: LocalServer) -> Api:
    return Api(server.url).login(server.admin_id, server.admin_password)


@pytest.fixture(scope="session")
def storage(server: LocalServer) -> Iterator[Storage]:
    opened = Storage.open(server.data_dir, migrate=False, database_url=server.database_url)
    yield opened
    opened.close()


@pytest.fixture
def worker(storage: Storage) -> FakeWorker:
    """The queue, emptied of tasks earlier tests left staged, so that a claim gets this test's task."""
    fake = FakeWorker(storage, "drain")
    while (leftover := storage.queue.claim("drain", 30)) is not None:
        fake.finish(leftover, Outcome(failure_kind=TaskFailureKind.HOST_ERROR, reason="left over by an earlier test"))
    return FakeWorker(storage)


@pytest.fixture
def user(admin: Api) -> Callable[..., Api]:
    """``user("DataOwner", "org")`` registers a fresh user (by the admin) and logs them in."""
    return admin.new_user
