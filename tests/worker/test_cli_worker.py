"""``teabox worker``: worker processes apart from the HTTP service, on the same data directory."""

from __future__ import annotations

import signal
import subprocess
import sys

from support.worker import DEADLINE, LocalPlatform, concat_payload

from teabox.worker.staging import staging_base


def test_teabox_worker_runs_tasks_and_stops_cleanly_on_sigterm(local: LocalPlatform) -> None:
    data_dir = local.platform.storage.data_dir
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "teabox.cli",
            "worker",
            "--data-dir",
            str(data_dir),
            "--database",
            local.platform.storage.database.url,
            "--workers",
            "1",
            "--allow-file-dir",
            str(local.files),
        ],
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        task_id = local.run(local.function(concat_payload([], [])))
        row = local.wait_ended(task_id)
        assert (row.status, row.return_value) == ("Finished", "0")
    finally:
        process.send_signal(signal.SIGTERM)
        _, stderr = process.communicate(timeout=DEADLINE)
    assert process.returncode == 0, stderr
    assert "1 worker process on" in stderr
    assert list(staging_base(data_dir).iterdir()) == []


def test_teabox_worker_refuses_bad_options() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "teabox.cli", "worker", "--workers", "0"],
        capture_output=True,
        text=True,
        timeout=DEADLINE,
        check=False,
    )
    assert result.returncode == 2 and "--workers" in result.stderr
