"""Start a throw-away teabox platform on this machine, for the quickstart and for tests.

It runs ``teabox serve`` as a child process (a real HTTP server with its own
workers, exactly what a deployment runs) on a free port with its own data
directory, creates the first admin with ``teabox admin create``, and stops the
server again. A child process rather than an in-process server keeps the
caller's process free of the server's threads and lets tests kill and restart
the server the way an operator would.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import IO

import httpx

from teabox.errors import TeaboxError
from teabox.platform.metrics_dir import default_metrics_dir

STARTUP_TIMEOUT = 60.0
STOP_TIMEOUT = 15.0


class ServerStartError(TeaboxError):
    """``teabox serve`` exited or did not answer in time; the message holds its log's tail."""


def free_port() -> int:
    """A TCP port nobody listens on right now (the OS picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def stop_process_group(process: subprocess.Popen[bytes], *, kill: bool, grace: float) -> None:
    """SIGTERM ``process`` (or with ``kill`` SIGKILL its whole group at once), give it ``grace`` seconds,
    then SIGKILL whatever of its process group is left: nothing it started outlives the stop."""
    if kill:
        os.killpg(process.pid, signal.SIGKILL)
    elif process.poll() is None:
        process.terminate()
    try:
        process.wait(grace)
    except subprocess.TimeoutExpired:
        pass
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    process.wait()


def teabox_command(*args: str) -> list[str]:
    """The ``teabox`` command run with this interpreter, so a venv's teabox is the one used."""
    return [sys.executable, "-m", "teabox.cli", *args]


class LocalServer:
    """A ``teabox serve`` child process with a private data directory.

    Use as a context manager, or call :meth:`start` and :meth:`stop`. The data
    directory survives :meth:`stop` and :meth:`restart` (that is what a restart
    test needs) and is removed on exit from the context only if this object
    created it. ``database_url`` runs it on another database (``--database``),
    for example a PostgreSQL one; the data directory still holds the platform
    key and the blobs.
    """

    def __init__(
        self,
        data_dir: str | os.PathLike[str] | None = None,
        *,
        workers: int = 2,
        admin_id: str = "admin",
        admin_password: str | None = None,
        extra_args: tuple[str, ...] = (),
        env: dict[str, str] | None = None,
        database_url: str | None = None,
    ) -> None:
        self._owns_data_dir = data_dir is None
        self.data_dir = Path(data_dir) if data_dir is not None else Path(tempfile.mkdtemp(prefix="teabox-platform-"))
        self.workers = workers
        self.admin_id = admin_id
        self.admin_password = admin_password or os.urandom(12).hex()
        self.extra_args = extra_args
        self.env = {**os.environ, **(env or {})}
        if database_url is not None:  # --database through the environment, so `teabox admin create` gets it too
            self.env["TEABOX_DATABASE_URL"] = database_url
        self.database_url = self.env.get("TEABOX_DATABASE_URL")
        self.port = 0
        self.process: subprocess.Popen[bytes] | None = None
        self.log_path = self.data_dir / "server.log"
        self._log: IO[bytes] | None = None
        self._admin_created = False

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> LocalServer:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
        if self._owns_data_dir:
            shutil.rmtree(self.data_dir, ignore_errors=True)

    def create_admin(self) -> None:
        """Create the first PlatformAdmin in the data directory (once)."""
        if self._admin_created:
            return
        done = subprocess.run(
            teabox_command(
                "admin", "create", "--data-dir", str(self.data_dir), "--user-id", self.admin_id, "--password-stdin"
            ),
            input=self.admin_password.encode() + b"\n",
            capture_output=True,
            env=self.env,
            timeout=120,
        )
        if done.returncode != 0:
            raise ServerStartError(
                f"`teabox admin create` failed (exit {done.returncode}): {done.stderr.decode(errors='replace').strip()}"
            )
        self._admin_created = True

    def start(self) -> None:
        """Create the admin if needed, start the server and wait until it answers."""
        self.data_dir.parent.mkdir(parents=True, exist_ok=True)
        self.data_dir.mkdir(mode=0o700, exist_ok=True)  # teabox refuses a data directory others may read
        self.create_admin()
        if not self.port:
            self.port = free_port()
        self._log = open(self.log_path, "ab")
        self.process = subprocess.Popen(
            teabox_command(
                "serve",
                "--data-dir",
                str(self.data_dir),
                "--host",
                "127.0.0.1",
                "--port",
                str(self.port),
                "--workers",
                str(self.workers),
                *self.extra_args,
            ),
            stdout=self._log,
            stderr=subprocess.STDOUT,
            env=self.env,
            start_new_session=True,
        )
        self._wait_until_healthy()

    def _wait_until_healthy(self) -> None:
        deadline = time.monotonic() + STARTUP_TIMEOUT
        assert self.process is not None
        while time.monotonic() < deadline:
            if (status := self.process.poll()) is not None:
                self._halt()  # the log file is closed and any worker it left behind is stopped
                raise ServerStartError(f"`teabox serve` exited with {status}:\n{self.log_tail()}")
            try:
                if httpx.get(self.url + "/api/v1/health", timeout=1.0).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.05)
        self.stop()
        raise ServerStartError(f"`teabox serve` did not answer within {STARTUP_TIMEOUT:g} s:\n{self.log_tail()}")

    def stop(self, *, kill: bool = False) -> None:
        """Stop the server: SIGTERM lets it stop its workers itself; ``kill`` is a crash
        (SIGKILL to the server and every worker at once). Whatever remains of its
        process group after the grace period is killed, and so are its Prometheus
        figures, which live in memory (see teabox.platform.metrics_dir)."""
        self._halt(kill=kill)
        shutil.rmtree(default_metrics_dir(self.data_dir), ignore_errors=True)

    def _halt(self, *, kill: bool = False) -> None:
        process, self.process = self.process, None
        if process is not None:
            stop_process_group(process, kill=kill, grace=STOP_TIMEOUT)
        if self._log is not None:
            self._log.close()
            self._log = None

    def restart(self, *, kill: bool = False) -> None:
        """Stop and start again on the same port and data directory (figures included)."""
        self._halt(kill=kill)
        self.start()

    def log_tail(self, lines: int = 40) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return "(no log)"
        return "\n".join(text.splitlines()[-lines:])
