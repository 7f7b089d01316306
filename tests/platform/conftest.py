"""The platform in this process (the service's app over a fresh data directory, no workers: tests drive
the queue themselves) and its admin. Tests that need a ``teabox serve`` process start their own."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from support.backends import BACKENDS, database_url
from support.in_process import InProcessPlatform, open_app
from support.platform_api import MAX_UPLOAD, Api, FakeWorker

from teabox.failure_kinds import TaskFailureKind
from teabox.platform.settings import Settings
from teabox.platform.staged import Outcome
from teabox.platform.storage import Storage


@pytest.fixture(scope="session")
def platform_app(
    tmp_path_factory: pytest.TempPathFactory, new_database: Callable[[], str | None]
) -> Iterator[InProcessPlatform]:
    """One in-process platform for the session; tests keep apart by their fresh users and object ids."""
    base = tmp_path_factory.mktemp("in-process")
    files = base / "files"
    files.mkdir()
    settings = Settings(max_upload_bytes=MAX_UPLOAD, allowed_file_dirs=(files,))
    with open_app(base / "data", new_database(), settings=settings) as running:
        yield running


@pytest.fixture(scope="session")
def admin(platform_app: InProcessPlatform) -> Api:
    return Api(platform_app.url, http=platform_app.http).login(platform_app.admin_id, platform_app.admin_password)


@pytest.fixture(scope="session")
def storage(platform_app: InProcessPlatform) -> Iterator[Storage]:
    """The data directory opened a second time, as a worker process opens it: its own engine and notifier."""
    opened = Storage.open(platform_app.data_dir, migrate=False, database_url=platform_app.database_url)
    yield opened
    opened.close()


@pytest.fixture
def worker(storage: Storage) -> FakeWorker:
    """The queue, emptied of tasks earlier tests left staged or running on a lapsed lease (no sweep runs
    in-process between tests), so that a claim gets this test's task."""
    storage.queue.requeue_expired()
    fake = FakeWorker(storage, "drain")
    while (leftover := storage.queue.claim("drain", 30)) is not None:
        fake.finish(leftover, Outcome(failure_kind=TaskFailureKind.HOST_ERROR, reason="left over by an earlier test"))
    return FakeWorker(storage)


@pytest.fixture(params=BACKENDS)
def fresh_storage(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Storage]:
    """A data directory of the test's own, on each database in turn, for tests of the platform's queries."""
    cluster = request.getfixturevalue("postgres_cluster") if request.param == "postgres" else None
    opened = Storage.open(tmp_path / "data", database_url=database_url(request.param, cluster))
    try:
        yield opened
    finally:
        opened.close()
