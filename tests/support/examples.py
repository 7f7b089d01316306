"""The repository's example payloads (``examples/``), built for the tests that run them on a platform."""

from __future__ import annotations

from pathlib import Path

from teabox.demo.flows import build_payload

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def build_example(name: str) -> bytes:
    """The payload built from ``examples/<name>`` (cached after the first build)."""
    return build_payload(EXAMPLES / name)
