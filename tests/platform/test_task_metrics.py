"""The run histograms take a worker's report at its word only for the figures, never for the labels:
a forged report (a stolen worker token) can neither add series nor poison the sums."""

from __future__ import annotations

from prometheus_client import REGISTRY

from teabox.failure_kinds import TaskFailureKind
from teabox.platform.staged import Outcome
from teabox.platform.task_metrics import observe_recorded


def _count(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def test_only_known_stages_with_sane_seconds_are_counted() -> None:
    before = {stage: _count("teabox_task_stage_seconds_count", stage=stage) for stage in ("run", "load_payload")}
    failed_before = _count("teabox_task_run_seconds_count", result=TaskFailureKind.TIMEOUT.value)
    stages = {"run": 0.25, "load_payload": -1.0, "stage_inputs": float("nan"), "seal_outputs": float("inf")}
    forged = {**stages, 'evil",x="1': 5.0, "publish_outputs": "1"}
    observe_recorded(Outcome(failure_kind=TaskFailureKind.TIMEOUT, metrics={"stages": forged}))

    assert _count("teabox_task_stage_seconds_count", stage="run") == before["run"] + 1
    assert _count("teabox_task_stage_seconds_count", stage="load_payload") == before["load_payload"]
    assert _count("teabox_task_run_seconds_count", result=TaskFailureKind.TIMEOUT.value) == failed_before + 1
    names = {sample.labels.get("stage") for family in REGISTRY.collect() for sample in family.samples}
    assert not any(name and "evil" in name for name in names)


def test_an_outcome_without_stages_is_not_counted() -> None:
    before = _count("teabox_task_run_seconds_count", result="Finished")
    observe_recorded(Outcome(metrics={"stages": "not a mapping"}))
    observe_recorded(Outcome())
    assert _count("teabox_task_run_seconds_count", result="Finished") == before
