"""Histograms of how long recorded runs took, stage by stage.

Observed where a run's outcome is recorded (:meth:`teabox.platform.queue.TaskQueue.finish`,
when it returns True): that happens once per task however many attempts it took,
in the process that records it (a worker process beside the service, or the
API server a remote worker reports to), so no run is counted twice and none is
missed. The seconds are the worker's own measurements (``metrics.stages`` of
the outcome). A worker's report is not trusted to name its labels: only the
stages teabox has are kept, so a forged report cannot add series.
"""

from __future__ import annotations

import math
from typing import Any

from prometheus_client import Histogram

from teabox.failure_kinds import TaskFailureKind
from teabox.platform.staged import Outcome

STAGES = ("stage_inputs", "load_payload", "run", "seal_outputs", "publish_outputs")
# From a millisecond to an hour: trivial runs, and inputs of gigabytes over slow links.
BUCKETS = (0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600)

STAGE_SECONDS = Histogram(
    "teabox_task_stage_seconds",
    "Seconds a recorded run spent in each stage, as the worker measured them.",
    ["stage"],
    buckets=BUCKETS,
)
RUN_SECONDS = Histogram(
    "teabox_task_run_seconds",
    "Seconds of a recorded run (the sum of its stages), by its result: Finished or the failure kind.",
    ["result"],
    buckets=BUCKETS,
)


# Each series looked up once: ``labels()`` costs as much as observing, and this runs for every task.
_BY_STAGE = {stage: STAGE_SECONDS.labels(stage) for stage in STAGES}
_BY_RESULT = {kind: RUN_SECONDS.labels(kind.value) for kind in TaskFailureKind}
_FINISHED = RUN_SECONDS.labels("Finished")


def observe_recorded(outcome: Outcome) -> None:
    """Count one recorded outcome's stage and run seconds."""
    stages: Any = (outcome.metrics or {}).get("stages")
    if not isinstance(stages, dict):
        return
    total = 0.0
    for stage, series in _BY_STAGE.items():
        seconds = stages.get(stage)
        if isinstance(seconds, int | float) and math.isfinite(seconds) and seconds >= 0:
            series.observe(seconds)
            total += seconds
    (_FINISHED if outcome.failure_kind is None else _BY_RESULT[outcome.failure_kind]).observe(total)
