"""How soon a task whose worker died unwatched is retried: the lease, the heartbeat and the sweep.

A worker renews its task's lease every ``DEFAULT_HEARTBEAT_SECONDS``; each
renewal moves the lease's end to ``DEFAULT_LEASE_SECONDS`` after it. A worker
that dies renews nothing after its death, so its lease runs out at most
``DEFAULT_LEASE_SECONDS`` after the moment it died. The lease sweep
(``TaskQueue.requeue_expired``) runs every ``REQUEUE_PERIOD_SECONDS`` in the
service and in every worker pool, so the task is back in the queue (or failed
as ``worker_lost`` after its last attempt) at most lease plus sweep period
after the death: 3.5 s, which ``LOST_WORKER_BOUND_SECONDS``, the bound the
documentation states, leaves 1.5 s of room for a sweep delayed on a loaded
machine. Six heartbeats per lease keep a run's lease through a few late ones. A task whose
worker is lost ``DEFAULT_MAX_ATTEMPTS`` times fails with ``worker_lost``.

A worker a supervisor watches is recovered sooner: the supervisor ends a dead
child's lease at once (``TaskQueue.release_worker``).
"""

from __future__ import annotations

DEFAULT_LEASE_SECONDS = 3.0
HEARTBEATS_PER_LEASE = 6
DEFAULT_HEARTBEAT_SECONDS = DEFAULT_LEASE_SECONDS / HEARTBEATS_PER_LEASE
DEFAULT_MAX_ATTEMPTS = 3
REQUEUE_PERIOD_SECONDS = 0.5
LOST_WORKER_BOUND_SECONDS = 5.0
