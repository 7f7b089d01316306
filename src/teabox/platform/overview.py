"""What the queue and the workers are doing, for the admin: one read of the tasks table.

It is a platform operation like any other (admin only, audited), so the web
console and the HTTP API show the same figures.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select

from teabox.platform.context import Ctx, operation
from teabox.platform.db_clock import database_now
from teabox.platform.models import Task
from teabox.platform.ordering import codepoint
from teabox.platform.states import TaskStatus


@operation("get_queue_stats")
def get_queue_stats(ctx: Ctx) -> dict[str, Any]:
    """Tasks by status, the age of the oldest staged task, and which worker holds each running task."""
    counts = dict(ctx.session.execute(select(Task.status, func.count()).group_by(Task.status)).tuples().all())
    oldest = ctx.session.scalar(select(func.min(Task.staged_at)).where(Task.status == TaskStatus.STAGED.value))
    running = ctx.session.execute(
        # Leases run on the database's clock: what is left of one is measured on it too.
        select(Task.id, Task.worker_id, Task.attempt, (Task.lease_expires_at - database_now()).label("lease_left"))
        .where(Task.status == TaskStatus.RUNNING.value)
        .order_by(codepoint(Task.id))
    ).all()
    return {
        "tasks_by_status": {status.value: counts.get(status.value, 0) for status in TaskStatus},
        "queue_depth": counts.get(TaskStatus.STAGED.value, 0),
        "oldest_staged_seconds": round(ctx.now - oldest, 3) if oldest is not None else None,
        "running": [
            {
                "task_id": row.id,
                "worker_id": row.worker_id,
                "attempt": row.attempt,
                "lease_left_seconds": round(row.lease_left, 3) if row.lease_left is not None else None,
            }
            for row in running
        ],
        "workers_busy": len({row.worker_id for row in running}),
    }
