"""Suite-wide fixtures: the running-server fixtures live in ``support/platform_server.py``."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
from support.metrics_dirs import remove_metrics_dirs_under
from support.postgres import PostgresCluster
from support.s3 import S3Server

pytest_plugins = ["support.closing", "support.platform_server"]

# The suite registers and logs in thousands of users, in this process and in the servers it starts (which
# inherit the variable): argon2's cheapest cost saves each a sixth of a second of CPU. What a deployment gets
# without it is tested in platform/test_password_hash.py.
os.environ["TEABOX_PASSWORD_HASH"] = "cheapest"


@pytest.fixture(scope="session")
def postgres_cluster() -> Iterator[PostgresCluster]:
    """A real PostgreSQL server private to this test run; ``create_database()`` gives a fresh database's URL."""
    cluster = PostgresCluster()
    try:
        yield cluster
    finally:
        cluster.stop()


@pytest.fixture(scope="session", autouse=True)
def forget_metrics(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """The servers' figures live in memory, not in their data directories: gone with the run's."""
    yield
    remove_metrics_dirs_under(tmp_path_factory.getbasetemp())


@pytest.fixture(scope="session")
def s3_server() -> Iterator[S3Server]:
    """A real S3-API server (SeaweedFS) private to this test run; ``create_bucket()`` gives a fresh bucket."""
    server = S3Server()
    try:
        yield server
    finally:
        server.stop()
