"""Remote workers for tests: worker tokens issued by ``teabox admin``, and ``teabox worker --url`` processes.

A remote worker runs in a directory of its own, with nothing of the
server's data directory in reach and no platform setting in its
environment: only the URL and its token file.
"""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path
from typing import IO

import httpx

from teabox.client import Client, CryptoInfo, DataMap, FunctionInput, FunctionOutput, OwnerList
from teabox.testing.local_server import LocalServer, stop_process_group, teabox_command

DEADLINE = 60.0  # generous: tests wait for events, they do not time them
# What a worker process must not inherit from the test run: where the server's data and key are.
_PLATFORM_VARIABLES = ("TEABOX_DATA_DIR", "TEABOX_PLATFORM_KEY", "TEABOX_DATABASE_URL", "TEABOX_BLOBS_URL")


def admin(server: LocalServer, *args: str) -> str:
    """Run ``teabox admin ARGS --data-dir <server's>``; its standard output."""
    done = subprocess.run(
        teabox_command("admin", *args, "--data-dir", str(server.data_dir)),
        capture_output=True,
        text=True,
        env=server.env,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def issue_worker_token(server: LocalServer, name: str = "remote") -> str:
    return admin(server, "worker-token", "create", "--name", name)


def token_id_of(server: LocalServer, token: str) -> str:
    answer = httpx.get(f"{server.url}/api/v1/worker/whoami", headers={"authorization": f"Bearer {token}"})
    assert answer.status_code == 200, answer.text
    return str(answer.json()["token_id"])


class RemoteWorker:
    """``teabox worker --url URL --token-file FILE`` started in ``home``, an otherwise empty directory."""

    def __init__(self, home: Path, url: str, token: str, *, workers: int = 1, extra_args: tuple[str, ...] = ()) -> None:
        self.home = home
        home.mkdir(mode=0o700, parents=True, exist_ok=True)
        self.token_file = home / "worker.token"
        self.token_file.write_text(token + "\n")
        self.token_file.chmod(0o600)
        self.url, self.workers, self.extra_args = url, workers, extra_args
        self.process: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None

    def start(self) -> RemoteWorker:
        env = {name: value for name, value in os.environ.items() if name not in _PLATFORM_VARIABLES}
        self._log = open(self.home / "worker.log", "ab")
        self.process = subprocess.Popen(
            teabox_command(
                "worker",
                "--url",
                self.url,
                "--token-file",
                str(self.token_file),
                "--workers",
                str(self.workers),
                "--data-dir",
                str(self.home / "work"),
                *self.extra_args,
            ),
            cwd=self.home,
            env=env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        return self

    def __enter__(self) -> RemoteWorker:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def stop(self, *, kill: bool = False) -> None:
        """SIGTERM (finish the task held, then exit), or with ``kill`` SIGKILL to the whole process group."""
        process, self.process = self.process, None
        if process is not None:
            stop_process_group(process, kill=kill, grace=30)
        if self._log is not None:
            self._log.close()
            self._log = None

    def log(self) -> str:
        return (self.home / "worker.log").read_text(errors="replace")


def wait_until(condition, what: str) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + DEADLINE
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.05)
    raise AssertionError(f"never happened: {what}")


def hosted_task(client: Client, payload: bytes, plaintext: bytes, tmp: Path, *, output_schema: str = "aes-gcm-128"):  # type: ignore[no-untyped-def]
    """A staged task of ``client``'s over one encrypted hosted input and one hosted output.

    Returns (task id, input record, output record); the payload copies input ``in`` to output ``out``.
    """
    function_id = client.register_function(
        "copy",
        "",
        "wamr",
        payload=payload,
        inputs=[FunctionInput("in")],
        outputs=[FunctionOutput("out")],
        limits={"timeout_seconds": 300.0},  # a loaded machine must not turn a long run into a timeout
    )
    source = tmp / "in.txt"
    source.write_bytes(plaintext)
    given = client.register_local_input(source)
    taken = client.register_hosted_output("out.enc", crypto=CryptoInfo.random(output_schema))
    task_id = client.create_task(
        function_id,
        inputs_ownership=[OwnerList("in", [client.user_id])],
        outputs_ownership=[OwnerList("out", [client.user_id])],
    )
    client.assign_data_to_task(task_id, [DataMap("in", given.data_id)], [DataMap("out", taken.data_id)])
    client.approve_task(task_id)
    client.invoke_task(task_id)
    return task_id, given, taken
