"""The platform in this process: the service's ASGI app over a fresh data directory, called through an
``httpx.Client`` whose transport calls the app directly (no socket), so the SDK's own ``Client`` takes it.

Everything but the socket and the worker processes is the real thing: the same app ``teabox serve``
runs, its middleware, lifespan (the long-poll waiter, background jobs), the database and the blob
store. A failing rule can be stepped through with a debugger, and coverage sees the service's code.
Tests that need a process (``serve`` itself, a restart, a kill) use ``LocalServer`` instead.

``open_app(data_dir, database_url)`` is the one place that assembles it, so that a fixture can be
parametrised over databases: ``database_url`` None is the data directory's own SQLite file.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from anyio.from_thread import BlockingPortal, start_blocking_portal
from fastapi import FastAPI

from teabox.client import Client
from teabox.platform.core import Platform
from teabox.platform.settings import Settings
from teabox.platform.storage import Storage
from teabox.service.app import create_app
from teabox.service.limits import ServiceLimits

# The address the in-process clients name; no socket is opened for it.
URL = "http://testserver"
ADMIN_ID = "admin"


class AppTransport(httpx.BaseTransport):
    """A synchronous httpx transport into an ASGI app: httpx's own ``ASGITransport`` (which is async only),
    run on the event loop of ``portal``, a thread of its own, as a server's loop would be.

    Starlette's ``TestClient`` does the same, but its client is moving to another HTTP library than the
    SDK's. Each request's body is read before it is handed over (the app gets it whole, not in chunks) and
    the answer is read in full before it is returned.
    """

    def __init__(self, app: FastAPI, portal: BlockingPortal) -> None:
        self._asgi = httpx.ASGITransport(app=app)
        self._portal = portal

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        request.read()  # a whole body is an async stream too, which ASGITransport needs
        return self._portal.call(self._send, request)

    async def _send(self, request: httpx.Request) -> httpx.Response:
        response = await self._asgi.handle_async_request(request)
        body = await response.aread()
        return httpx.Response(response.status_code, headers=response.headers, content=body, request=request)


@dataclass
class InProcessPlatform:
    """A running app: ``http`` is the ``httpx.Client`` that reaches it, ``client()`` a real SDK ``Client``."""

    app: FastAPI
    storage: Storage
    platform: Platform
    http: httpx.Client
    transport: AppTransport
    admin_password: str
    admin_id: str = ADMIN_ID
    url: str = URL
    _clients: list[Client] = field(default_factory=list)

    @property
    def data_dir(self) -> Path:
        return self.storage.data_dir

    @property
    def database_url(self) -> str | None:
        """The database's URL when it is not the data directory's SQLite file."""
        return None if self.storage.database.is_sqlite else self.storage.database.url

    def client(self, token: str | None = None) -> Client:
        """An SDK ``Client`` whose requests go to the app in this process."""
        client = Client(self.url, token=token, http=self.http)
        self._clients.append(client)
        return client

    def login(self, user_id: str, password: str) -> Client:
        client = self.client()
        client.user_login(user_id, password)
        return client


@contextmanager
def open_app(
    data_dir: Path,
    database_url: str | None = None,
    *,
    settings: Settings | None = None,
    limits: ServiceLimits | None = None,
    background: list[Callable[[], object]] | None = None,
) -> Iterator[InProcessPlatform]:
    """Create ``data_dir`` (0700, as ``teabox serve`` demands) with a PlatformAdmin, and serve it in-process
    until the block ends. ``background`` jobs run every second, as ``serve``'s do."""
    data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    storage = Storage.open(data_dir, database_url=database_url)
    platform = Platform(storage, settings or Settings())
    password = os.urandom(12).hex()
    platform.create_admin(ADMIN_ID, password)
    app = create_app(platform, limits=limits, background=background)
    try:
        # The app's lifespan (the long-poll waiter, the background jobs) runs on the portal's loop, as
        # uvicorn runs it. An exception no handler turns into an answer (a bug) is raised into the test at
        # the call, traceback and all, where a real client would see a 500.
        with (
            start_blocking_portal() as portal,
            portal.wrap_async_context_manager(app.router.lifespan_context(app)),
        ):
            transport = AppTransport(app, portal)
            http = httpx.Client(base_url=URL, transport=transport, timeout=90.0)
            running = InProcessPlatform(app, storage, platform, http, transport, password)
            try:
                yield running
            finally:
                for client in running._clients:
                    client.close()
                http.close()
    finally:
        storage.close()
