"""A throw-away PostgreSQL cluster for the tests: the real server, started from Debian's binaries.

``initdb`` refuses to run as root, so as root the cluster belongs to the ``postgres`` account
(the Debian package creates it) and lives in a directory that account owns. The cluster listens on
127.0.0.1 on a free port with trust authentication, which is safe only because it is private to
the test run and stopped at its end. Each test that wants a database gets a fresh one from
:meth:`PostgresCluster.create_database`; ``CREATE DATABASE … TEMPLATE`` copies a migrated one
in a fraction of the time a migration takes.
"""

from __future__ import annotations

import glob
import itertools
import os
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path

_BIN_GLOB = "/usr/lib/postgresql/*/bin"
_names = itertools.count(1)


def _bin_dir() -> Path:
    found = sorted(glob.glob(_BIN_GLOB))
    if not found:
        raise RuntimeError("PostgreSQL is not installed: `apt-get install postgresql` (scripts/test does this)")
    return Path(found[-1])


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class PostgresCluster:
    """One running cluster; ``url(name)`` gives SQLAlchemy URLs for teabox's ``--database``."""

    def __init__(self, *, durable: bool = False) -> None:
        """``durable`` keeps ``fsync`` on, so every commit pays its flush as a deployment's does (the
        benchmark's choice); the tests turn it off, since a crash of a throw-away cluster loses nothing."""
        self.bin = _bin_dir()
        self.root = Path(tempfile.mkdtemp(prefix="teabox-pg-"))
        self.data = self.root / "data"
        self.port = _free_port()
        self._as_postgres = os.geteuid() == 0
        if self._as_postgres:
            shutil.chown(self.root, "postgres", "postgres")
        self._run("initdb", "-D", str(self.data), "-A", "trust", "-U", "postgres", "--no-sync", "-E", "UTF8")
        options = f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c max_connections=400"
        if not durable:
            options += " -c fsync=off"
        self._run("pg_ctl", "-D", str(self.data), "-o", options, "-l", str(self.root / "log"), "-w", "start")

    def _run(self, tool: str, *args: str) -> str:
        command = [str(self.bin / tool), *args]
        if self._as_postgres:
            command = ["runuser", "-u", "postgres", "--", *command]
        done = subprocess.run(command, capture_output=True, text=True, check=False, cwd=self.root)
        if done.returncode != 0:
            raise RuntimeError(f"{tool} failed ({done.returncode}): {done.stderr.strip() or done.stdout.strip()}")
        return done.stdout

    def sql(self, statement: str, database: str = "postgres") -> str:
        """Run one statement as the superuser through ``psql``; its output, unaligned."""
        return self._run(
            "psql", "-h", str(self.root), "-p", str(self.port), "-U", "postgres", "-d", database,
            "-v", "ON_ERROR_STOP=1", "-Atc", statement,
        )  # fmt: skip

    def url(self, database: str) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{database}"

    def create_database(self, template: str | None = None) -> str:
        """A new empty database (or a copy of ``template``); its URL."""
        name = f"teabox_{os.getpid()}_{next(_names)}"
        self.sql(f"CREATE DATABASE {name}" + (f" TEMPLATE {template}" if template else ""))
        return self.url(name)

    def stop(self) -> None:
        try:
            self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop")
        finally:
            shutil.rmtree(self.root, ignore_errors=True)
