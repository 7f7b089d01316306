"""Wake-ups on PostgreSQL: LISTEN/NOTIFY between processes that share only the database.

Each wait below is given a minute: it returns at once on a notification, and
returns False (failing the test) only if none came, since a listener's wait
never polls on its own.
"""

from __future__ import annotations

import select
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text
from support.backends import database_url, platform_admin
from support.postgres import PostgresCluster

from teabox.platform.core import Platform
from teabox.platform.notify import SAFETY_POLL_SECONDS, Topic
from teabox.platform.notify_postgres import PostgresListener, PostgresNotifier
from teabox.platform.staged import Outcome
from teabox.platform.storage import Storage

WAIT = 60.0


@pytest.fixture
def storages(postgres_cluster: PostgresCluster, tmp_path: Path) -> Iterator[tuple[Storage, Storage]]:
    """An API server's storage and a worker's, each with its own notifier, on one PostgreSQL database."""
    url = database_url("postgres", postgres_cluster)
    server, worker = (
        Storage.open(tmp_path / "data", database_url=url),
        Storage.open(tmp_path / "data", database_url=url),
    )
    try:
        yield server, worker
    finally:
        worker.close()
        server.close()


def test_postgresql_storage_wakes_through_listen_notify(storages: tuple[Storage, Storage]) -> None:
    server, worker = storages
    assert isinstance(server.notifier, PostgresNotifier) and isinstance(worker.notifier, PostgresNotifier)
    listener = worker.notifier.listen(Topic.QUEUE)
    try:
        assert isinstance(listener, PostgresListener)
        assert listener.poll_seconds == SAFETY_POLL_SECONDS, "the poll is a slow backstop, not the way to wait"
    finally:
        listener.close()


def test_a_waiting_worker_wakes_on_a_staged_task_and_a_waiter_on_its_result(storages: tuple[Storage, Storage]) -> None:
    server, worker = storages
    admin = platform_admin(Platform(server))
    owner, user = admin.new_user("FunctionOwner"), admin.new_user("DataOwner-org")
    task_id = user.task(owner.function())
    queue_listener = worker.notifier.listen(Topic.QUEUE)
    results_listener = server.notifier.listen(Topic.RESULTS)
    try:
        queue_listener.drain()
        assert worker.queue.claim("w1", 30) is None
        assert not queue_listener.wait(0), "nothing has been staged yet"
        user.call("invoke_task", task_id=task_id)
        assert queue_listener.wait(WAIT), "the worker was not woken by the staged task"
        queue_listener.drain()
        run = worker.queue.claim("w1", 30)
        assert run is not None and run.task_id == task_id

        # The service's long-poll watches the listener's descriptor from its event loop.
        descriptor = results_listener.fileno()
        assert descriptor is not None
        results_listener.drain()
        assert worker.queue.finish(task_id, "w1", run.attempt, Outcome(return_value=b"7"))
        readable, _, _ = select.select([descriptor], [], [], WAIT)
        assert readable == [descriptor], "the result's waiter was not woken"
    finally:
        queue_listener.close()
        results_listener.close()


def test_a_notification_reaches_only_its_topic(storages: tuple[Storage, Storage]) -> None:
    server, worker = storages
    queue_listener, results_listener = worker.notifier.listen(Topic.QUEUE), worker.notifier.listen(Topic.RESULTS)
    try:
        server.notifier.notify(Topic.RESULTS)
        assert results_listener.wait(WAIT)
        # Notifications arrive in order on one connection: a later one for QUEUE proves the earlier passed by.
        server.notifier.notify(Topic.QUEUE)
        assert queue_listener.wait(WAIT)
        queue_listener.drain()
        results_listener.drain()
        assert not results_listener.wait(0) and not queue_listener.wait(0)
    finally:
        queue_listener.close()
        results_listener.close()


def test_listeners_are_woken_after_their_connection_is_lost_and_keep_listening(
    storages: tuple[Storage, Storage],
) -> None:
    """Notifications sent while the connection was down are lost: the reconnect wakes every listener instead."""
    server, worker = storages
    listener = worker.notifier.listen(Topic.QUEUE)
    try:
        listener.drain()
        with server.database.engine.connect() as admin:
            ended = admin.execute(
                text(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                    "WHERE datname = current_database() AND query LIKE 'LISTEN %'"
                )
            ).all()
        assert ended == [(True,)], "the worker's process holds one listening connection"
        assert listener.wait(WAIT), "the reconnect did not wake the listener"
        listener.drain()
        server.notifier.notify(Topic.QUEUE)
        assert listener.wait(WAIT), "the new connection does not listen"
    finally:
        listener.close()


def test_ring_wakes_the_own_waiter_and_close_stops_listening(storages: tuple[Storage, Storage]) -> None:
    server, worker = storages
    listener = worker.notifier.listen(Topic.QUEUE)
    listener.drain()
    listener.ring()
    assert listener.wait(WAIT)
    listener.close()
    server.notifier.notify(Topic.QUEUE)  # no listener left to write to: nothing breaks
    worker.notifier.close()
    worker.notifier.close()  # closing twice is harmless (Storage.close may follow an explicit close)


def test_a_notifier_whose_connection_was_lost_sends_again_on_a_new_one(
    storages: tuple[Storage, Storage], caplog: pytest.LogCaptureFixture
) -> None:
    server, worker = storages
    listener = worker.notifier.listen(Topic.QUEUE)
    try:
        server.notifier.notify(Topic.QUEUE)
        assert listener.wait(WAIT)
        listener.drain()
        with server.database.engine.connect() as admin:
            ended = admin.execute(
                text(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                    "WHERE datname = current_database() AND query LIKE 'NOTIFY %'"
                )
            ).all()
        assert ended == [(True,)]
        server.notifier.notify(Topic.QUEUE)  # on the dead connection: logged, and the listeners' poll covers it
        assert "could not send a queue wake-up" in caplog.text
        listener.drain()
        server.notifier.notify(Topic.QUEUE)
        assert listener.wait(WAIT), "the notifier did not reconnect"
    finally:
        listener.close()
