"""Reading a Prometheus exposition the way Prometheus does, for assertions on single samples."""

from __future__ import annotations

from prometheus_client.parser import text_string_to_metric_families


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample of the exposition ``text``: (name, sorted labels) -> value. Fails on malformed text."""
    found: dict[tuple[str, tuple[tuple[str, str], ...]], float] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            found[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return found


def value(text: str, name: str, **labels: str) -> float:
    """The one sample ``name{labels}``; 0 when it is absent (a histogram series not yet observed)."""
    return samples(text).get((name, tuple(sorted(labels.items()))), 0.0)
