"""``/health`` and ``/ready`` for load balancers, on real servers, with the part that fails named.

``/health`` must answer while the database or the blob store is gone (a balancer
that restarted the server for that would gain nothing); ``/ready`` must then
answer 503 naming the part, without the error's details, which may name hosts.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import uvicorn
from support.postgres import PostgresCluster

from teabox.platform.core import Platform
from teabox.platform.storage import Storage
from teabox.service.app import create_app
from teabox.testing.local_server import LocalServer, free_port


def _ready(url: str, path: str = "/ready") -> httpx.Response:
    return httpx.get(f"{url}{path}", timeout=60)


def test_a_server_is_alive_and_ready_and_the_old_ready_path_still_answers(tmp_path: Path) -> None:
    with LocalServer(tmp_path / "data", workers=0) as server:
        health = httpx.get(f"{server.url}/health", timeout=60)
        assert health.status_code == 200 and health.json() == {"status": "ok"}
        for path in ("/ready", "/api/v1/ready"):
            ready = _ready(server.url, path)
            assert ready.status_code == 200
            assert ready.json() == {"status": "ok", "checks": {"database": "ok", "blobs": "ok", "disk": "ok"}}
            assert ready.headers["cache-control"] == "no-store"


def test_a_missing_blob_store_makes_the_server_unready_but_alive(tmp_path: Path) -> None:
    with LocalServer(tmp_path / "data", workers=0) as server:
        blobs = server.data_dir / "blobs"
        blobs.rename(server.data_dir / "blobs-away")
        try:
            for path in ("/ready", "/api/v1/ready"):
                refused = _ready(server.url, path)
                assert refused.status_code == 503
                error = refused.json()["error"]
                assert error["code"] == "not_ready"
                assert error["message"] == "not ready: blobs unreachable (FileNotFoundError)"
                assert str(server.data_dir) not in refused.text
            assert httpx.get(f"{server.url}/health", timeout=60).status_code == 200
        finally:
            (server.data_dir / "blobs-away").rename(blobs)
        assert _ready(server.url).status_code == 200
        assert "readiness: the blob store is unreachable" in server.log_tail()


@pytest.fixture
def served_on_postgres(postgres_cluster: PostgresCluster, tmp_path: Path) -> Iterator[tuple[str, str]]:
    """A real HTTP server (uvicorn, in a thread) over a fresh PostgreSQL database: (its URL, the database's name)."""
    database_url = postgres_cluster.create_database()
    storage = Storage.open(tmp_path / "data", database_url=database_url)
    port = free_port()
    config = uvicorn.Config(create_app(Platform(storage)), host="127.0.0.1", port=port, log_level="warning")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        while not server.started:
            if not thread.is_alive():
                pytest.fail("the server did not start")
            thread.join(0.05)
        yield f"http://127.0.0.1:{port}", database_url.rsplit("/", 1)[1]
    finally:
        server.should_exit = True
        thread.join(60)
        storage.close()


def test_a_lost_database_makes_the_server_unready_but_alive_until_it_is_back(
    served_on_postgres: tuple[str, str], postgres_cluster: PostgresCluster
) -> None:
    url, database = served_on_postgres
    assert _ready(url).status_code == 200
    postgres_cluster.sql(f"DROP DATABASE {database} WITH (FORCE)")
    for path in ("/ready", "/api/v1/ready"):
        refused = _ready(url, path)
        assert refused.status_code == 503
        assert refused.json()["error"] == {
            "code": "not_ready",
            "message": "not ready: database unreachable (OperationalError)",
        }
        assert "127.0.0.1" not in refused.text and database not in refused.text
    health = httpx.get(f"{url}/health", timeout=60)
    assert health.status_code == 200 and health.json() == {"status": "ok"}

    # The database is back: the same server is ready again, nothing restarted.
    postgres_cluster.sql(f"CREATE DATABASE {database}")
    assert _ready(url).status_code == 200
