"""Withdraw what dead attempts published for a task that then ended without its outputs.

A worker that is killed while publishing cannot undo its own commits: a
``PUT`` may have reached its server, a hidden part or even the renamed file
may sit in a ``file://`` directory, a platform-hosted file may point at the
dead attempt's bytes. A retry of the task that succeeds replaces all of it
(it writes the same destinations, and stages ``file://`` outputs under the
same hidden name). A task that instead ends ``Failed`` or ``Canceled`` would
keep it, so the service sweeps such tasks: for every output whose write the
task had begun (``write_task``) but which holds no recorded cmac, it takes back
what may be there (:meth:`teabox.worker.fetch.Transfers.withdraw`), then marks
the task withdrawn so that this happens once. The burn mark stays: the output's
(key, IV) still belongs to that task for good.
"""

from __future__ import annotations

import logging
import time
from collections import defaultdict

from sqlalchemy import and_, select, update

from teabox.logs import task_extra
from teabox.platform.db import Database
from teabox.platform.models import DataFile, Task, TaskData
from teabox.platform.states import TaskStatus
from teabox.worker.fetch import TransferError, Transfers, describe_url

log = logging.getLogger("teabox.withdrawal")

_ENDED_WITHOUT_OUTPUTS = (TaskStatus.FAILED.value, TaskStatus.CANCELED.value)
_PENDING = (
    select(Task.id, DataFile.id, DataFile.url)
    .join(TaskData, and_(TaskData.task_id == Task.id, TaskData.direction == "output"))
    .join(DataFile, DataFile.id == TaskData.file_id)
    .where(
        Task.status.in_(_ENDED_WITHOUT_OUTPUTS),
        Task.worker_id.is_(None),  # no run of it is still going
        Task.outputs_withdrawn_at.is_(None),
        DataFile.write_task == Task.id,
        DataFile.cmac.is_(None),
    )
)


def withdraw_unrecorded_outputs(database: Database, transfers: Transfers) -> int:
    """Withdraw the unrecorded outputs of tasks that ended without them; returns how many tasks."""
    with database.reading() as connection:
        pending = connection.execute(_PENDING).all()
        if not pending:
            return 0
        urls = {url for _, _, url in pending}
        # Another output record at the same URL that holds a recorded output, or whose write has begun:
        # what is at the URL may be its, so only this output's own traces (a hidden part, a link) go.
        others = connection.execute(
            select(DataFile.url, DataFile.id, DataFile.cmac, DataFile.write_task).where(
                DataFile.url.in_(urls), DataFile.kind == "output"
            )
        ).all()
    shared = {
        (url, file_id)
        for _, file_id, url in pending
        for other_url, other_id, cmac, write_task in others
        if other_url == url and other_id != file_id and (cmac is not None or write_task is not None)
    }
    by_task: dict[str, list[tuple[str, str]]] = defaultdict(list)
    for task_id, file_id, url in pending:
        by_task[task_id].append((file_id, url))
    for task_id, outputs in by_task.items():
        for file_id, url in outputs:
            try:
                transfers.withdraw(url, file_id, keep_target=(url, file_id) in shared)
            except (TransferError, OSError) as exc:
                log.warning(
                    "could not withdraw output %s of task %s at %s: %s",
                    file_id,
                    task_id,
                    describe_url(url),
                    exc,
                    extra=task_extra(task_id),
                )
        with database.writing() as connection:
            connection.execute(update(Task).where(Task.id == task_id).values(outputs_withdrawn_at=time.time()))
    return len(by_task)
