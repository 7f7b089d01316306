"""The queue's state as Prometheus gauges, read from the database at each scrape.

Every API server answers with the same figures, whichever server or machine
staged, claimed or finished the tasks: nothing is counted in a process's
memory. The figures are counts and ages only; no user, task, file or worker is
named (a worker's id holds its host name and process id).

Workers are seen through the leases of the tasks they run: a busy worker renews
its lease every heartbeat, so ``teabox_workers_busy`` counts the workers holding
a live lease and ``teabox_worker_heartbeat_age_seconds`` is how long ago the
most silent of them last renewed (it climbs towards the lease length when a
worker hangs or dies; the sweep then retries its task). An idle worker holds no
lease and writes nothing, so it is not seen here.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy import func, select

from teabox.platform.db_clock import database_now
from teabox.platform.models import Task
from teabox.platform.queue import TaskQueue
from teabox.platform.states import TaskStatus

_STAGED = TaskStatus.STAGED.value
_RUNNING = TaskStatus.RUNNING.value
_OLDEST_STAGED = select(func.min(Task.staged_at)).where(Task.status == _STAGED)
# Leases are stamped by the database's clock (teabox.platform.db_clock), so they are judged by it here too.
_LIVE = Task.lease_expires_at >= database_now()
# A renewal sets the lease's end to lease_seconds after it: the end minus the length is when it happened.
_LEASES = select(
    func.count(func.distinct(Task.worker_id)).filter(_LIVE),
    func.count().filter(~_LIVE),
    database_now() - func.min(Task.lease_expires_at - Task.lease_seconds),
).where(Task.status == _RUNNING, Task.lease_expires_at.is_not(None))


class QueueCollector(Collector):
    """Tasks by state, queue depth, the oldest staged task's age, and the busy workers' heartbeats."""

    def __init__(self, queue: TaskQueue) -> None:
        self._queue = queue

    def collect(self) -> Iterator[GaugeMetricFamily]:
        now = time.time()
        counts = self._queue.counts()
        with self._queue.database.reading() as connection:
            oldest = connection.scalar(_OLDEST_STAGED)
            live, expired, beat_age = connection.execute(_LEASES).one()
        by_state = GaugeMetricFamily("teabox_tasks", "Tasks in each state.", labels=["state"])
        for status in TaskStatus:
            by_state.add_metric([status.value], counts.get(status.value, 0))
        yield by_state
        yield GaugeMetricFamily("teabox_queue_depth", "Tasks staged and waiting for a worker.", counts.get(_STAGED, 0))
        yield GaugeMetricFamily(
            "teabox_queue_oldest_staged_age_seconds",
            "How long the oldest staged task has waited (0 when none waits).",
            max(0.0, now - oldest) if oldest is not None else 0.0,
        )
        yield GaugeMetricFamily("teabox_workers_busy", "Workers holding a live lease on a running task.", live)
        yield GaugeMetricFamily(
            "teabox_leases_expired", "Running tasks whose lease ran out, waiting for the sweep to retry them.", expired
        )
        yield GaugeMetricFamily(
            "teabox_worker_heartbeat_age_seconds",
            "Seconds since the least recent lease renewal among running tasks (0 when none runs).",
            max(0.0, beat_age) if beat_age is not None else 0.0,
        )
