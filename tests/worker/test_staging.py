"""Staging areas are private while a task runs and gone afterwards, whatever happened."""

from __future__ import annotations

import multiprocessing
import os
import stat
from pathlib import Path

import pytest

from teabox.errors import TeaboxError
from teabox.worker.staging import WorkerStaging, staging_base, sweep_abandoned


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_task_area_is_private_and_removed_afterwards(tmp_path: Path) -> None:
    staging = WorkerStaging(tmp_path, "w1")
    with staging.task_area("task-1", 1) as area:
        fetched = area.fetched(0, "in.enc")
        fetched.write_bytes(b"x")
        area.plain_output(0).write_bytes(b"y")
        assert _mode(area.root) == 0o700
        assert _mode(fetched.parent) == 0o700 and _mode(area.plain_output(0).parent) == 0o700
        assert _mode(staging_base(tmp_path)) == 0o700
    assert not area.root.exists()
    assert list(staging.root.iterdir()) == []
    staging.close()
    assert list(staging_base(tmp_path).iterdir()) == []


def test_task_area_is_removed_when_the_task_raises(tmp_path: Path) -> None:
    staging = WorkerStaging(tmp_path, "w1")
    with pytest.raises(RuntimeError, match="the task broke"), staging.task_area("task-1", 2) as area:
        area.plain_input(0).write_bytes(b"plaintext")
        raise RuntimeError("the task broke")
    assert not area.root.exists()
    staging.close()


def test_ids_cannot_steer_paths(tmp_path: Path) -> None:
    staging = WorkerStaging(tmp_path, "../w")
    with staging.task_area("../../etc", 1) as area:
        assert area.root.parent == staging.root and staging.root.parent == staging_base(tmp_path)
    staging.close()


def test_a_worker_id_is_used_by_one_live_process_at_a_time(tmp_path: Path) -> None:
    first = WorkerStaging(tmp_path, "w1")
    with pytest.raises(TeaboxError, match="another live worker"):
        WorkerStaging(tmp_path, "w1")
    first.close()


def _stage_and_die(data_dir: str) -> None:
    staging = WorkerStaging(Path(data_dir), "dies")
    with staging.task_area("task-9", 1) as area:
        area.plain_input(0).write_bytes(b"plaintext left behind")
        os._exit(1)  # killed mid-task: no clean-up runs


def test_sweep_removes_the_directories_of_dead_workers_only(tmp_path: Path) -> None:
    alive = WorkerStaging(tmp_path, "alive")
    process = multiprocessing.get_context("spawn").Process(target=_stage_and_die, args=(str(tmp_path),))
    process.start()
    process.join(30)
    left = staging_base(tmp_path) / "dies"
    assert (left / "task-9.1" / "plain" / "0").read_bytes() == b"plaintext left behind"

    removed = sweep_abandoned(tmp_path)
    assert removed == [left]
    assert not left.exists()
    assert alive.root.is_dir()
    alive.close()
