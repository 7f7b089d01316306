"""The withdrawal sweep on its own: what a failed task's attempts may have published goes, once;
retention keeps the task's record until then."""

from __future__ import annotations

import pytest
from support.worker import LocalPlatform, spin_payload

from teabox.failure_kinds import TaskFailureKind
from teabox.formats import CryptoInfo
from teabox.platform.retention import collect
from teabox.platform.staged import Outcome
from teabox.worker.fetch import TransferPolicy, Transfers, hidden_part
from teabox.worker.withdrawal import withdraw_unrecorded_outputs

# Both blob stores: the data directory's folder and an S3-API object store.
pytestmark = pytest.mark.parametrize("local", ["local", "s3"], indirect=True)


def _output(local: LocalPlatform, name: str) -> str:
    info = CryptoInfo.random("aes-gcm-128")
    url = (local.files / name).as_uri()
    return local.call("register_output_file", url=url, schema=info.schema, key=info.key, iv=info.iv)["data_id"]


def test_a_failed_tasks_unrecorded_output_is_withdrawn_once_and_only_then_its_record_may_go(
    local: LocalPlatform,
) -> None:
    storage = local.platform.storage
    output_id = _output(local, "verdict.enc")
    task_id = local.run(local.function(spin_payload(), outputs=["out"]), outputs={"out": output_id})
    run = storage.queue.claim("w", 60.0)
    assert run is not None and storage.queue.begin_writes(task_id, "w", run.attempt) is None
    # What a worker killed after its rename (and a later one, killed after staging) left.
    target = local.files / "verdict.enc"
    target.write_bytes(b"a dead attempt's ciphertext")
    hidden_part(target, output_id).write_bytes(b"another one's")
    storage.queue.finish(task_id, "w", run.attempt, Outcome(failure_kind=TaskFailureKind.WORKER_LOST, reason="killed"))

    def remove_ended_tasks() -> int:
        return collect(storage, tasks_older_than_days=0, audit_older_than_days=None).tasks

    assert remove_ended_tasks() == 0, "the record is kept until what its attempts published is withdrawn"
    transfers = Transfers(TransferPolicy(allowed_dirs=(local.files,)), storage.hosted)
    assert withdraw_unrecorded_outputs(storage.database, transfers) == 1
    assert sorted(local.files.iterdir()) == []
    target.write_bytes(b"written by someone else since")
    assert withdraw_unrecorded_outputs(storage.database, transfers) == 0, "once per task"
    assert target.exists()
    assert remove_ended_tasks() == 1


def test_a_file_another_record_may_own_is_kept(local: LocalPlatform) -> None:
    storage = local.platform.storage
    first, second = _output(local, "shared.enc"), _output(local, "shared.enc")
    function_id = local.function(spin_payload(), outputs=["out"])
    tasks = [local.run(function_id, outputs={"out": output}) for output in (first, second)]
    runs = [storage.queue.claim("w", 60.0) for _ in tasks]
    for task_id, run in zip(tasks, runs, strict=True):
        assert run is not None and storage.queue.begin_writes(task_id, "w", run.attempt) is None
    assert runs[0] is not None and runs[1] is not None
    (local.files / "shared.enc").write_bytes(b"maybe the second task's output")
    storage.queue.finish(
        tasks[0], "w", runs[0].attempt, Outcome(failure_kind=TaskFailureKind.WORKER_LOST, reason="killed")
    )
    transfers = Transfers(TransferPolicy(allowed_dirs=(local.files,)), storage.hosted)
    assert withdraw_unrecorded_outputs(storage.database, transfers) == 1
    assert (local.files / "shared.enc").exists(), "the second task's write of that path has begun"
