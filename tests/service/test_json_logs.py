"""``--log-format json`` (and ``TEABOX_LOG_FORMAT=json``): real servers and workers run a task, and their
log lines are parsed back: one JSON object per line, the task's lines carrying its id, attempt and worker.
The worker command's runs also count in the ``/metrics`` of the server beside it."""

from __future__ import annotations

import json
import signal
import subprocess
from pathlib import Path
from typing import Any

import httpx
from support.metrics_text import value
from support.trivial_task import finished_task

from teabox.testing.local_server import LocalServer, teabox_command

# What `teabox serve` prints for the person at the terminal, outside the log.
_ANNOUNCEMENTS = ("teabox serving ", "teabox worker: ")


def _records(log: str) -> list[dict[str, Any]]:
    records = []
    for line in log.splitlines():
        if line.startswith(_ANNOUNCEMENTS):
            continue
        record = json.loads(line)  # every other line is one JSON object
        assert {"time", "level", "logger", "message"} <= record.keys(), record
        records.append(record)
    return records


def _task_lines(records: list[dict[str, Any]], task_id: str) -> list[dict[str, Any]]:
    return [record for record in records if record.get("task_id") == task_id]


def test_serve_logs_json_lines_with_the_task_fields(tmp_path: Path) -> None:
    server = LocalServer(tmp_path / "data", workers=1, extra_args=("--log-format", "json", "--log-level", "info"))
    with server:
        task_id = finished_task(server)
    records = _records(server.log_path.read_text())
    assert any(record["logger"].startswith("uvicorn") for record in records), "the HTTP server's lines are JSON too"
    (ended,) = _task_lines(records, task_id)
    assert ended["logger"] == "teabox.worker.loop" and ended["level"] == "INFO"
    assert ended["attempt"] == 1 and ended["worker_id"].endswith("-w0-1")
    assert ended["result"] == "finished" and ended["recorded"] is True
    assert task_id in ended["message"]


def test_a_worker_command_takes_the_format_from_the_environment(tmp_path: Path) -> None:
    server = LocalServer(tmp_path / "data", workers=0, extra_args=("--metrics-allow", "127.0.0.1"))
    worker_log = tmp_path / "worker.log"
    with server, open(worker_log, "wb") as log:
        worker = subprocess.Popen(
            teabox_command("worker", "--data-dir", str(server.data_dir), "--workers", "1", "--log-level", "info"),
            stdout=log,
            stderr=subprocess.STDOUT,
            env={**server.env, "TEABOX_LOG_FORMAT": "json"},
        )
        try:
            task_id = finished_task(server)
            # The worker command records its runs beside the server: the server's answer counts them.
            figures = httpx.get(f"{server.url}/metrics", timeout=60).text
            assert value(figures, "teabox_task_run_seconds_count", result="Finished") == 1
        finally:
            worker.send_signal(signal.SIGTERM)
            worker.wait(60)
    (ended,) = _task_lines(_records(worker_log.read_text()), task_id)
    assert ended["attempt"] == 1 and ended["worker_id"] and ended["result"] == "finished"
