"""Task states, Teaclave's numbers for them, and which moves between them are legal.

The API's changes go through :func:`check_transition`; the queue's are
conditional UPDATEs whose WHERE clauses name the state they move from. Both
must keep to :data:`TRANSITIONS`: tests/platform/test_state_changes.py records
every status the database gives a task (with a trigger), drives every path
that writes one, and checks each change against the table and that the paths
together make every move it allows.
"""

from __future__ import annotations

from enum import StrEnum
from typing import NoReturn

from teabox.platform.errors import StateConflict
from teabox.teaclave_status import TeaclaveTaskStatus


class TaskStatus(StrEnum):
    CREATED = "Created"
    DATA_ASSIGNED = "DataAssigned"
    APPROVED = "Approved"
    STAGED = "Staged"
    RUNNING = "Running"
    FINISHED = "Finished"
    CANCELED = "Canceled"
    FAILED = "Failed"

    @property
    def code(self) -> int:
        return STATUS_CODES[self]

    @property
    def ended(self) -> bool:
        return self in ENDED


# Teaclave's numbers, by the same names.
STATUS_CODES: dict[TaskStatus, int] = {status: TeaclaveTaskStatus[status.value].value for status in TaskStatus}

ENDED = frozenset({TaskStatus.FINISHED, TaskStatus.CANCELED, TaskStatus.FAILED})
WAITING = frozenset({TaskStatus.CREATED, TaskStatus.DATA_ASSIGNED, TaskStatus.APPROVED})

_S = TaskStatus
# status -> the statuses it may move to. Staying put (e.g. Created after a partial assignment) is not a move.
TRANSITIONS: dict[TaskStatus, frozenset[TaskStatus]] = {
    _S.CREATED: frozenset({_S.DATA_ASSIGNED, _S.APPROVED, _S.STAGED, _S.CANCELED}),
    _S.DATA_ASSIGNED: frozenset({_S.APPROVED, _S.STAGED, _S.CANCELED}),
    _S.APPROVED: frozenset({_S.STAGED, _S.CANCELED}),
    _S.STAGED: frozenset({_S.RUNNING, _S.CANCELED}),
    # Running -> Staged is a retry after the worker was lost.
    _S.RUNNING: frozenset({_S.FINISHED, _S.FAILED, _S.CANCELED, _S.STAGED}),
    _S.FINISHED: frozenset(),
    _S.CANCELED: frozenset(),
    _S.FAILED: frozenset(),
}


def can_move(current: TaskStatus, target: TaskStatus) -> bool:
    return target in TRANSITIONS[current]


def check_transition(current: TaskStatus, target: TaskStatus, action: str) -> None:
    """Refuse ``action`` with 409 unless it may move a task from ``current`` to ``target``."""
    if not can_move(current, target):
        refuse(current, action)


def refuse(current: TaskStatus, action: str) -> NoReturn:
    """Refuse ``action`` on a task in state ``current`` with 409, naming the state."""
    if current.ended:
        raise StateConflict(f"cannot {action}: the task has already ended ({current.value})", "task_ended")
    raise StateConflict(f"cannot {action} a task in state {current.value}", "invalid_state")
