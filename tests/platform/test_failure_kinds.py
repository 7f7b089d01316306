"""The task failure kinds: a superset of the executor's, with the same wire values, and the ones the docs list."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from teabox.executor import FailureKind
from teabox.failure_kinds import TaskFailureKind

DOCS = Path(__file__).resolve().parents[2] / "docs"


def test_every_executor_kind_is_a_task_kind_with_the_same_name_and_value() -> None:
    for kind in FailureKind:
        assert TaskFailureKind[kind.name] == kind.value
        assert TaskFailureKind(kind) is TaskFailureKind[kind.name]


def test_the_task_level_kinds_keep_their_wire_values() -> None:
    own = {kind.value for kind in TaskFailureKind} - {kind.value for kind in FailureKind}
    assert own == {"input_error", "output_error", "worker_lost"}


def test_the_http_api_doc_lists_exactly_the_task_failure_kinds() -> None:
    text = (DOCS / "http-api.md").read_text()
    listed = text.split("Failure kinds:", 1)[1].split("\n\n", 1)[0]
    assert set(re.findall(r"`(\w+)`", listed)) == {kind.value for kind in TaskFailureKind}


def test_naming_the_kinds_does_not_load_the_webassembly_engine() -> None:
    probe = "import sys, teabox.failure_kinds, teabox.platform.queue; print('wasmtime' in sys.modules)"
    loaded = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout.strip()
    assert loaded == "False"
