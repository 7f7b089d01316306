"""The state machine's table itself: every (from, to) pair, legal or not, and Teaclave's numbers."""

from __future__ import annotations

import itertools

import pytest

from teabox.platform.errors import StateConflict
from teabox.platform.states import TaskStatus, can_move, check_transition

S = TaskStatus
LEGAL = {
    (S.CREATED, S.DATA_ASSIGNED),
    (S.CREATED, S.APPROVED),
    (S.CREATED, S.STAGED),
    (S.CREATED, S.CANCELED),
    (S.DATA_ASSIGNED, S.APPROVED),
    (S.DATA_ASSIGNED, S.STAGED),
    (S.DATA_ASSIGNED, S.CANCELED),
    (S.APPROVED, S.STAGED),
    (S.APPROVED, S.CANCELED),
    (S.STAGED, S.RUNNING),
    (S.STAGED, S.CANCELED),
    (S.RUNNING, S.FINISHED),
    (S.RUNNING, S.FAILED),
    (S.RUNNING, S.CANCELED),
    (S.RUNNING, S.STAGED),
}


@pytest.mark.parametrize(("current", "target"), list(itertools.product(S, S)))
def test_every_pair(current: TaskStatus, target: TaskStatus) -> None:
    assert can_move(current, target) == ((current, target) in LEGAL)
    if (current, target) in LEGAL:
        check_transition(current, target, "move")
    else:
        with pytest.raises(StateConflict) as refused:
            check_transition(current, target, "move")
        assert refused.value.code == ("task_ended" if current.ended else "invalid_state")
        assert current.value in refused.value.message


def test_teaclave_numbers() -> None:
    assert {s.value: s.code for s in S} == {
        "Created": 0,
        "DataAssigned": 1,
        "Approved": 2,
        "Staged": 3,
        "Running": 4,
        "Finished": 10,
        "Canceled": 20,
        "Failed": 99,
    }
