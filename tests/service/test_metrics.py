"""``/metrics`` on a real server: who may read it, what it says, and that it adds up every process.

The run histograms are observed where a run's outcome is recorded, which with
``teabox serve --workers N`` is a worker process, never the API process that
answers the scrape: a finished task counted in the answer shows the processes'
figures being added up. The queue's figures come from the database, so a second
server on the same database answers the same, and a claim made by another
process shows in both.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import time
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path

import httpx
import pytest
from support.metrics_text import samples, value
from support.trivial_task import finished_task, staged_task

from teabox.platform.metrics_dir import default_metrics_dir
from teabox.platform.storage import Storage
from teabox.service.limits import ServiceLimits
from teabox.testing.local_server import LocalServer, free_port, teabox_command

TOKEN = "m" * 20 + os.urandom(16).hex()


@pytest.fixture
def token_file(tmp_path: Path) -> Path:
    path = tmp_path / "metrics.token"
    path.write_text(TOKEN + "\n")
    path.chmod(0o600)
    return path


@pytest.fixture
def server(tmp_path: Path, token_file: Path) -> Iterator[LocalServer]:
    """One worker; the token reads /metrics, and only addresses in 192.0.2.0/24 (none here) read without it."""
    args = ("--metrics-token-file", str(token_file), "--metrics-allow", "192.0.2.0/24")
    with LocalServer(tmp_path / "data", workers=1, extra_args=args) as running:
        yield running


def _scrape(url: str) -> str:
    answer = httpx.get(f"{url}/metrics", headers={"Authorization": f"Bearer {TOKEN}"}, timeout=60)
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"].startswith("text/plain")
    return answer.text


def test_metrics_are_read_with_the_token_only(server: LocalServer) -> None:
    for headers in (
        {},
        {"Authorization": "Bearer " + "x" * len(TOKEN)},
        {"Authorization": f"Bearer {TOKEN}x"},
        {"Authorization": f"Basic {TOKEN}"},
        {"Authorization": TOKEN},
    ):
        refused = httpx.get(f"{server.url}/metrics", headers=headers, timeout=60)
        assert refused.status_code == 403, headers
        assert refused.json()["error"]["code"] == "forbidden"
        assert "teabox_" not in refused.text
    assert "teabox_tasks" in _scrape(server.url)


def test_a_server_without_metrics_options_lets_nobody_read_them(tmp_path: Path) -> None:
    with LocalServer(tmp_path / "data", workers=0) as server:
        refused = httpx.get(f"{server.url}/metrics", headers={"Authorization": f"Bearer {TOKEN}"}, timeout=60)
    assert refused.status_code == 403
    assert "--metrics-token-file" in refused.json()["error"]["message"]


def test_an_allowed_network_reads_without_a_token(tmp_path: Path) -> None:
    with LocalServer(tmp_path / "data", workers=0, extra_args=("--metrics-allow", "127.0.0.0/8")) as server:
        answer = httpx.get(f"{server.url}/metrics", timeout=60)
    assert answer.status_code == 200 and "teabox_queue_depth" in answer.text


@pytest.mark.parametrize(
    ("content", "mode", "args", "said"),
    [
        (TOKEN, 0o644, (), "may be read by other users"),
        ("short", 0o600, (), "at least 32 characters"),
        (TOKEN + " " + TOKEN, 0o600, (), "one word"),
        (TOKEN, 0o600, ("--metrics-allow", "10.0.0.0/33"), "is not an address or network"),
        (None, 0o600, (), "cannot read the metrics token file"),
    ],
    # Named, not numbered from the random token: every xdist process must collect the same ids.
    ids=["readable-by-others", "short", "two-words", "bad-network", "missing"],
)
def test_unusable_metrics_options_stop_the_start_saying_why(
    tmp_path: Path, content: str | None, mode: int, args: tuple[str, ...], said: str
) -> None:
    token = tmp_path / "token"
    if content is not None:
        token.write_text(content)
        token.chmod(mode)
    data = tmp_path / "data"
    data.mkdir(mode=0o700)
    command = ["serve", "--data-dir", str(data), "--port", str(free_port()), "--metrics-token-file", str(token), *args]
    done = subprocess.run(teabox_command(*command), capture_output=True, text=True, timeout=120)
    shutil.rmtree(default_metrics_dir(data), ignore_errors=True)
    assert done.returncode == 2, done.stderr
    assert said in done.stderr
    assert "Traceback" not in done.stderr


def test_a_metrics_directory_others_may_use_is_refused(tmp_path: Path) -> None:
    shared = tmp_path / "shared-metrics"
    shared.mkdir(mode=0o755)
    shared.chmod(0o755)
    data = tmp_path / "data"
    data.mkdir(mode=0o700)
    done = subprocess.run(
        teabox_command("serve", "--data-dir", str(data), "--port", str(free_port())),
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(shared)},
    )
    assert done.returncode != 0
    assert f"the metrics directory {shared} is not a directory private to this user" in done.stderr
    assert "Traceback" not in done.stderr and not list(shared.iterdir())


def test_the_figures_count_a_run_recorded_in_a_worker_process_and_name_nobody(server: LocalServer) -> None:
    task_id = finished_task(server)
    httpx.get(f"{server.url}/console/tasks/{task_id}", timeout=60)
    httpx.get(f"{server.url}/no/such/{task_id}", timeout=60)
    oversized = b"x" * (ServiceLimits().max_request_bytes + 1)
    assert httpx.post(f"{server.url}/api/v1/create_task", content=oversized, timeout=60).status_code == 413
    text = _scrape(server.url)

    assert value(text, "teabox_tasks", state="Finished") == 1
    assert value(text, "teabox_tasks", state="Staged") == 0
    assert value(text, "teabox_queue_depth") == 0
    # Observed in the worker process that recorded the outcome, answered by the API process.
    assert value(text, "teabox_task_run_seconds_count", result="Finished") == 1
    for stage in ("stage_inputs", "load_payload", "run", "seal_outputs", "publish_outputs"):
        assert value(text, "teabox_task_stage_seconds_count", stage=stage) == 1, stage
    assert value(text, "teabox_task_stage_seconds_sum", stage="run") > 0
    http = "teabox_http_request_duration_seconds_count"
    assert value(text, http, method="POST", route="/api/v1/create_task", status="200") == 1
    assert value(text, http, method="GET", route="/console/tasks/{task_id}", status="303") == 1
    assert value(text, http, method="GET", route="unrouted", status="404") >= 1
    assert value(text, http, method="POST", route="unrouted", status="413") == 1  # refused before routing

    # Nothing names a task, a user, a function or a worker (its id holds the host name and a pid).
    assert task_id not in text and "task-" not in text
    assert not re.search(r"(dataowner|functionowner|function)-[0-9a-f]", text)
    assert os.uname().nodename not in text
    routes = {dict(labels).get("route") for (_, labels) in samples(text) if dict(labels).get("route")}
    assert all("{" in route or not re.search(r"[0-9a-f]{8}-", route) for route in routes), routes

    # The figures are kept in memory, never in the data directory, which uploads can fill.
    assert list(default_metrics_dir(server.data_dir).glob("histogram_*.db"))
    assert not list(server.data_dir.rglob("histogram_*"))

    # The worker process that recorded the run is gone after a restart; its figures still count.
    server.restart()
    assert value(_scrape(server.url), "teabox_task_run_seconds_count", result="Finished") == 1


def _start_second_server(data_dir: Path, token_file: Path) -> tuple[subprocess.Popen[bytes], str]:
    """Another ``teabox serve`` (no workers) on the same data directory, so the same database."""
    port = free_port()
    process = subprocess.Popen(
        teabox_command(
            "serve", "--data-dir", str(data_dir), "--port", str(port), "--workers", "0",
            "--metrics-token-file", str(token_file),
        ),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    while process.poll() is None:
        try:
            if httpx.get(f"{url}/health", timeout=1).status_code == 200:
                return process, url
        except httpx.TransportError:
            time.sleep(0.1)
    pytest.fail(f"the second server exited with {process.returncode}")


def test_every_server_on_the_database_reports_the_same_queue(
    tmp_path: Path, token_file: Path, closer: ExitStack
) -> None:
    with LocalServer(tmp_path / "data", workers=0, extra_args=("--metrics-token-file", str(token_file))) as first:
        second, second_url = _start_second_server(first.data_dir, token_file)
        try:
            _, task_id = staged_task(first, closer)
            for url in (first.url, second_url):
                text = _scrape(url)
                assert value(text, "teabox_tasks", state="Staged") == 1
                assert value(text, "teabox_queue_depth") == 1
                assert value(text, "teabox_queue_oldest_staged_age_seconds") > 0
                assert value(text, "teabox_workers_busy") == 0

            # A worker elsewhere (this test process, through the queue) takes it: both servers see it running.
            storage = Storage.open(first.data_dir, migrate=False)
            try:
                claimed = storage.queue.claim("elsewhere-1", lease_seconds=60.0)
            finally:
                storage.close()
            assert claimed is not None and claimed.task_id == task_id
            for url in (first.url, second_url):
                text = _scrape(url)
                assert value(text, "teabox_tasks", state="Running") == 1
                assert value(text, "teabox_queue_depth") == 0
                assert value(text, "teabox_workers_busy") == 1
                assert value(text, "teabox_leases_expired") == 0
                assert 0 <= value(text, "teabox_worker_heartbeat_age_seconds") < 60
        finally:
            second.terminate()
            second.wait(30)
