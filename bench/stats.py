"""Summaries of repeated measurements: median and spread, never a single run.

The machine is shared and noisy, so every figure is a median over several
repetitions with its minimum, maximum and interquartile range beside it, and
every comparison is a ratio of medians taken in the same run.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class Summary:
    """A set of repeated measurements of one quantity (seconds, µs, MB/s...)."""

    values: tuple[float, ...]

    def __post_init__(self) -> None:
        if not self.values:
            raise ValueError("a summary needs at least one measurement")

    @property
    def median(self) -> float:
        return statistics.median(self.values)

    @property
    def minimum(self) -> float:
        return min(self.values)

    @property
    def maximum(self) -> float:
        return max(self.values)

    @property
    def quartiles(self) -> tuple[float, float]:
        if len(self.values) < 2:
            return self.values[0], self.values[0]
        q1, _, q3 = statistics.quantiles(self.values, n=4, method="inclusive")
        return q1, q3

    @property
    def spread(self) -> float:
        """Relative interquartile range: how far apart the middle half of the runs were."""
        q1, q3 = self.quartiles
        return (q3 - q1) / self.median if self.median else 0.0

    def to_dict(self) -> dict[str, object]:
        q1, q3 = self.quartiles
        return {
            "median": self.median,
            "min": self.minimum,
            "max": self.maximum,
            "q1": q1,
            "q3": q3,
            "count": len(self.values),
            "values": list(self.values),
        }


def summarize(values: Sequence[float]) -> Summary:
    return Summary(tuple(float(v) for v in values))


def percentile(values: Sequence[float], fraction: float) -> float:
    """The value below which ``fraction`` of the measurements fall (nearest rank)."""
    if not values:
        raise ValueError("no measurements")
    ordered = sorted(values)
    rank = max(1, math.ceil(fraction * len(ordered)))
    return ordered[rank - 1]


def geometric_mean(ratios: Sequence[float]) -> float:
    """The mean of ratios: one kernel twice as slow and one twice as fast average to 1."""
    if not ratios:
        raise ValueError("no ratios to average")
    return math.exp(sum(math.log(r) for r in ratios) / len(ratios))
