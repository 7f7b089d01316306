"""Teaclave's task status numbers, defined once for everything that speaks them.

Teaclave's API sent a task's status as the number of its protobuf enum
(``teaclave_common.proto``), and ported scripts compare against those numbers
(``task["status"] == 10``). The platform names statuses
(:class:`teabox.platform.states.TaskStatus`) and sends this number beside the
name; the SDK's records show it in Teaclave's dict view. The module stands
apart from both packages so that neither has to load the other to know them.
"""

from __future__ import annotations

from enum import IntEnum


class TeaclaveTaskStatus(IntEnum):
    """A task status by Teaclave's name and number; the SDK exports it as ``teabox.client.TaskStatus``."""

    Created = 0
    DataAssigned = 1
    Approved = 2
    Staged = 3
    Running = 4
    Finished = 10
    Canceled = 20
    Failed = 99
