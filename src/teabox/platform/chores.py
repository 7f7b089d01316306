"""Housekeeping a serving process runs now and then, each chore at its own period.

The service runs :meth:`Chores.run` every second (see ``teabox.service.app``);
a chore runs when its period has passed since it last ran, so a cheap chore
(requeueing lost tasks) can run every second while a heavier one (retention)
runs every few minutes, all on the one background thread hand-off.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field

log = logging.getLogger("teabox.chores")


@dataclass
class Chore:
    name: str
    period: float
    job: Callable[[], object]
    last_run: float = field(default=-float("inf"))


class Chores:
    """Due chores, run in order; one chore failing is logged and does not keep the others from running."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._chores: list[Chore] = []
        self._clock = clock

    def add(self, name: str, period: float, job: Callable[[], object]) -> None:
        self._chores.append(Chore(name, period, job))

    def run(self) -> None:
        for chore in self._chores:
            now = self._clock()
            if now - chore.last_run < chore.period:
                continue
            chore.last_run = now
            try:
                chore.job()
            except Exception:
                log.exception("the %s chore failed; it runs again in %g s", chore.name, chore.period)
