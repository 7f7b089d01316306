"""``teabox serve`` runs the service and the worker pool together and stops cleanly on Ctrl-C."""

from __future__ import annotations

import gc
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from support.platform_api import PASSWORD, Api, register_function

from teabox.testing.local_server import LocalServer, ServerStartError, free_port


def _wait_until_healthy(url: str, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        assert process.poll() is None, "teabox serve exited early"
        try:
            if httpx.get(f"{url}/api/v1/health", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            time.sleep(0.05)
    raise AssertionError("teabox serve did not answer within 60 s")


def test_serve_runs_tasks_and_stops_on_ctrl_c(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "teabox.cli",
            "admin",
            "create",
            "--data-dir",
            str(data_dir),
            "--user-id",
            "root",
            "--password-stdin",
        ],
        input=f"{PASSWORD}\n".encode(),
        check=True,
        timeout=120,
    )
    port = free_port()
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "teabox.cli",
            "serve",
            "--data-dir",
            str(data_dir),
            "--port",
            str(port),
            "--workers",
            "1",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        url = f"http://127.0.0.1:{port}"
        _wait_until_healthy(url, process)
        with Api(url).login("root") as admin:
            function_id = register_function(admin.new_user("FunctionOwner"))
            me = admin.new_user("DataOwner", "serve")
            task_id = me.call("create_task", function_id=function_id)["task_id"]
            me.call("invoke_task", task_id=task_id)
            result = me.call("get_task_result", task_id=task_id, timeout=60)
        assert (result["status"], result["return_value"]) == ("Finished", "7")
        assert httpx.get(f"{url}/openapi.json").json()["paths"]["/api/v1/create_task"]
        process.send_signal(signal.SIGINT)
        output, _ = process.communicate(timeout=60)
        assert process.returncode == 0, output.decode(errors="replace")
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def test_migrations_can_be_run_by_hand(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "teabox.cli", "admin", "migrate", "--data-dir", str(tmp_path / "d")],
        capture_output=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "d" / "teabox.db").is_file()


def test_a_server_that_exits_at_start_is_reported_and_leaves_nothing_open(tmp_path: Path) -> None:
    server = LocalServer(tmp_path / "data", workers=0, extra_args=("--no-such-option",))
    with pytest.raises(ServerStartError, match=r"exited with 2:(.|\n)*--no-such-option"):
        server.start()
    assert server.process is None, "the exited process was reaped"
    del server
    gc.collect()  # a log file left open would be reported here, as this test's ResourceWarning (an error)
