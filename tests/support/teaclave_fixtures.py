"""Where Teaclave's test vectors are: ``../shared/fixtures/teaclave`` beside the project."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

# $TEABOX_FIXTURES (as the example flows read it), else ../shared/fixtures/teaclave beside the project.
FIXTURES = Path(
    os.environ.get("TEABOX_FIXTURES") or Path(__file__).resolve().parents[2].parent / "shared" / "fixtures" / "teaclave"
).resolve()
MISSING = f"Teaclave's test vectors are not at {FIXTURES} (../shared/fixtures/teaclave beside the project)"

needs_fixtures = pytest.mark.skipif(not FIXTURES.is_dir(), reason=MISSING)
