"""What a remote worker may reach: the task it holds, while it holds it.

Every worker call that reads or writes a task's data names the run
(task id, worker id, attempt), and is answered only while that run still
holds the task: the task is ``Running`` under that worker and attempt, and
its lease has not run out. A worker that lost its lease, whose task was
canceled, or that names another worker's run, gets a refusal naming which,
and nothing else: no payload, no key, no file.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import and_, exists, select

from teabox.platform.db import Database
from teabox.platform.db_clock import database_now
from teabox.platform.errors import NotPermitted
from teabox.platform.hosted import parse_hosted_url
from teabox.platform.models import DataFile, HostedFile, Task, TaskData
from teabox.platform.queue import ActiveRun
from teabox.platform.staged import Outcome
from teabox.platform.states import TaskStatus


@dataclass(frozen=True)
class BoundFile:
    file_id: str
    write_task: str | None
    cmac: bytes | None


@dataclass(frozen=True)
class HeldRun:
    """A run that holds its task now, with the files bound to it by URL."""

    run: ActiveRun
    payload_sha256: str
    inputs: dict[str, BoundFile]
    outputs: dict[str, BoundFile]

    def input_at(self, url: str) -> BoundFile:
        bound = self.inputs.get(url)
        if bound is None:
            raise NotPermitted(f"{url} is not an input of task {self.run.task_id}", "not_bound")
        return bound

    def output_at(self, url: str) -> BoundFile:
        """An output this run may write now: bound to the task, its write begun by it, not yet recorded."""
        bound = self.outputs.get(url)
        if bound is None:
            raise NotPermitted(f"{url} is not an output of task {self.run.task_id}", "not_bound")
        if bound.write_task != self.run.task_id:
            raise NotPermitted(
                f"the write of output {bound.file_id} has not begun for task {self.run.task_id} (begin_writes first)",
                "write_not_begun",
            )
        if bound.cmac is not None:
            raise NotPermitted(f"output {bound.file_id} already holds a recorded output", "already_written")
        return bound


def held_run(database: Database, run: ActiveRun) -> HeldRun:
    """The run, if it holds its task at this moment; raises NotPermitted (403 ``not_holder``) otherwise."""
    with database.reading() as connection:
        row = connection.execute(
            select(Task.payload_sha256).where(
                Task.id == run.task_id,
                Task.worker_id == run.worker_id,
                Task.attempt == run.attempt,
                Task.status == TaskStatus.RUNNING.value,
                Task.lease_expires_at >= database_now(),
            )
        ).first()
        if row is None:
            raise NotPermitted(
                f"this worker does not hold task {run.task_id} (attempt {run.attempt}): it was never claimed by "
                "it, was canceled, or its lease ran out",
                "not_holder",
            )
        bindings = connection.execute(
            select(TaskData.direction, DataFile.url, DataFile.id, DataFile.write_task, DataFile.cmac)
            .join(DataFile, DataFile.id == TaskData.file_id)
            .where(TaskData.task_id == run.task_id)
        ).all()
    files: dict[str, dict[str, BoundFile]] = {"input": {}, "output": {}}
    for direction, url, file_id, write_task, cmac in bindings:
        files[direction][url] = BoundFile(file_id, write_task, cmac)
    return HeldRun(run, row.payload_sha256, files["input"], files["output"])


def writable_hosted(database: Database, url: str) -> str:
    """The hosted file id behind ``url`` if a task may write it: reserved (not uploaded), holding no recorded output."""
    parsed = parse_hosted_url(url)
    recorded = exists().where(and_(DataFile.url == url, DataFile.kind == "output", DataFile.cmac.is_not(None)))
    with database.reading() as connection:
        row = connection.execute(
            select(HostedFile.name, HostedFile.uploaded, recorded.label("recorded")).where(
                HostedFile.id == parsed.file_id
            )
        ).first()
    if row is None or row.name != parsed.name:
        raise NotPermitted(f"there is no platform file {url}", "not_bound")
    if row.uploaded:
        raise NotPermitted(f"the platform file {url} was uploaded by a user; tasks write only reserved files")
    if row.recorded:
        raise NotPermitted(f"the platform file {url} already holds a recorded output", "already_written")
    return parsed.file_id


def settled_by(database: Database, run: ActiveRun, outcome: Outcome) -> bool:
    """Whether the task already ended with exactly this run's outcome: a finish that arrives twice (its first
    answer was lost on the way) is answered "recorded" again rather than refused."""
    with database.reading() as connection:
        row = connection.execute(
            select(Task.status, Task.attempt, Task.worker_id, Task.tags, Task.failure_kind, Task.reason).where(
                Task.id == run.task_id
            )
        ).first()
    if row is None or row.attempt != run.attempt or row.worker_id is not None:
        return False
    if outcome.ok:
        tags = {name: tag.hex() for name, tag in outcome.tags.items()}
        return row.status == TaskStatus.FINISHED.value and (row.tags or {}) == tags
    kind = outcome.failure_kind.value if outcome.failure_kind is not None else None
    return row.status == TaskStatus.FAILED.value and (row.failure_kind, row.reason) == (kind, outcome.reason)
