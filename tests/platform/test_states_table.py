"""The API's check against the state table, for every (from, to) pair, and Teaclave's numbers for the states.
That the writes to the database keep to the table is checked where they happen: test_state_changes.py."""

from __future__ import annotations

import itertools
import re
from pathlib import Path

import pytest

from teabox.platform.errors import StateConflict
from teabox.platform.states import TRANSITIONS, TaskStatus, can_move, check_transition

S = TaskStatus


@pytest.mark.parametrize(("current", "target"), list(itertools.product(S, S)))
def test_check_transition_refuses_exactly_the_moves_outside_the_table(current: TaskStatus, target: TaskStatus) -> None:
    if target in TRANSITIONS[current]:
        assert can_move(current, target)
        check_transition(current, target, "move")
    else:
        assert not can_move(current, target)
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


def test_the_documented_moves_are_the_table() -> None:
    text = (Path(__file__).resolve().parents[2] / "docs" / "platform.md").read_text()
    listed = " ".join(text.split("Legal moves:", 1)[1].split("are final", 1)[0].split())
    documented = {
        S(source): {S(target) for target in re.findall(r"[A-Z][A-Za-z]+", re.sub(r"\(.*?\)", "", targets))}
        for source, targets in re.findall(r"(\w+) → ([^;]+)", listed.rsplit(".", 1)[0])
    }
    assert documented == {source: set(targets) for source, targets in TRANSITIONS.items() if targets}
