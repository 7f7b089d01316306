"""Pytest fixtures that run a real ``teabox serve`` process, for any test that talks HTTP.

Loaded for the whole suite by ``tests/conftest.py``. ``platform_server`` is one
server shared by a test session (most tests only need isolation by user and
object ids, which are fresh per test); ``start_platform_server`` starts private
ones for tests that stop, kill or restart the server. Both run on PostgreSQL when
``TEABOX_TEST_DATABASE=postgres`` (see ``support.databases``), each on a fresh database.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import pytest

from support.databases import chosen_database, migrated_template
from support.platform_api import Api, login
from teabox.client import Client
from teabox.testing.local_server import LocalServer

_user_numbers = itertools.count(1)


@pytest.fixture(scope="session")
def new_database(request: pytest.FixtureRequest) -> Callable[[], str | None]:
    """``new_database()``: a fresh migrated PostgreSQL database's URL under ``TEABOX_TEST_DATABASE=postgres``,
    else None (the data directory's SQLite file)."""
    if chosen_database() != "postgres":
        return lambda: None
    cluster = request.getfixturevalue("postgres_cluster")
    template = migrated_template(cluster)
    return lambda: cluster.create_database(template)


@pytest.fixture(scope="session")
def platform_server(
    tmp_path_factory: pytest.TempPathFactory, new_database: Callable[[], str | None]
) -> Iterator[LocalServer]:
    """A running platform: ``.url``, ``.admin_id``, ``.admin_password``, ``.data_dir``, ``.database_url``."""
    server = LocalServer(tmp_path_factory.mktemp("platform"), workers=2, database_url=new_database())
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def start_platform_server(
    tmp_path: Path, new_database: Callable[[], str | None]
) -> Iterator[Callable[..., LocalServer]]:
    """Start a private server (keyword arguments go to ``LocalServer``); all are stopped afterwards."""
    started: list[LocalServer] = []

    def start(**options: Any) -> LocalServer:
        if "database_url" not in options:
            options["database_url"] = new_database()
        server = LocalServer(tmp_path / f"platform-{len(started)}", **options)
        started.append(server)
        server.start()
        return server

    yield start
    for server in started:
        server.stop()


@pytest.fixture
def open_api(closer: ExitStack) -> Callable[[str], Api]:
    """``open_api(url)``: an anonymous :class:`Api` session of ``url``; the connection pool it opens, which the
    sessions it logs in share, is closed after the test."""
    return lambda url: closer.enter_context(Api(url))


@pytest.fixture
def admin_client(platform_server: LocalServer) -> Iterator[Client]:
    """The shared server's PlatformAdmin, logged in."""
    with login(platform_server, platform_server.admin_id, platform_server.admin_password) as client:
        yield client


def unique_user_id(prefix: str) -> str:
    """A user id no other test in this session uses."""
    return f"{prefix}-{os.getpid()}-{next(_user_numbers)}"


@pytest.fixture
def make_user(platform_server: LocalServer, admin_client: Client, closer: ExitStack) -> Callable[..., Client]:
    """``make_user("alice", "DataOwner", "bank")``: register a fresh user (by the admin) and return their
    logged-in client, closed after the test; ``client.user_id`` is the generated id."""

    def make(
        prefix: str, role: str, attribute: str = "", *, server: LocalServer | None = None, admin: Client | None = None
    ) -> Client:
        user_id = unique_user_id(prefix)
        password = f"pw-{user_id}"
        (admin or admin_client).user_register(user_id, password, role, attribute)
        return closer.enter_context(login(server or platform_server, user_id, password))

    return make
