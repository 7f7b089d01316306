"""What every part of the benchmark hands to the report: figures, targets and ratios."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

Log = Callable[[str], None]


@dataclass(frozen=True)
class Mode:
    """How hard to measure: ``quick`` is a smoke run of well under a minute."""

    quick: bool

    @property
    def tier(self) -> str:
        return "quick" if self.quick else "full"

    def reps(self, full: int, quick: int) -> int:
        return quick if self.quick else full


@dataclass(frozen=True)
class Target:
    """One of the issue's targets, next to what this run measured."""

    name: str
    limit: float
    direction: str  # "<=" or ">="
    unit: str
    measured: float | None  # None when it could not be measured in this run
    note: str = ""

    @property
    def met(self) -> bool | None:
        if self.measured is None:
            return None
        return self.measured <= self.limit if self.direction == "<=" else self.measured >= self.limit


@dataclass(frozen=True)
class Ratio:
    """One bar of the chart: a measured value divided by its same-run baseline."""

    group: str  # e.g. "teabox (limits on) / native"
    label: str  # e.g. the kernel
    value: float


@dataclass
class Section:
    title: str
    markdown: str
    data: dict[str, Any]
    targets: list[Target] = field(default_factory=list)
    ratios: list[Ratio] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "title": self.title,
            "data": self.data,
            "targets": [{**asdict(t), "met": t.met} for t in self.targets],
            "ratios": [asdict(r) for r in self.ratios],
        }


def skipped(title: str, reason: str) -> Section:
    """A section that could not run here, saying why rather than staying silent."""
    return Section(title, f"Not measured in this run: {reason}\n", {"skipped": reason})
