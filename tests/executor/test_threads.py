"""A subprocess executor shared by threads that come and go keeps its sandbox processes."""

from __future__ import annotations

import threading
from pathlib import Path

from teabox.executor import Executor, RunResult

from .conftest import entry

PAYLOAD = entry("(i32.const 11)")


def test_a_sandbox_started_by_a_thread_that_exits_serves_the_next_run(tmp_path: Path) -> None:
    executor = Executor(tmp_path, isolation="subprocess")
    try:
        results: list[RunResult] = []
        for _ in range(2):  # each thread starts or reuses the sandbox process, then exits
            thread = threading.Thread(target=lambda: results.append(executor.run(PAYLOAD)))
            thread.start()
            thread.join()
        after = executor.run(PAYLOAD)
        assert [r.return_value for r in [*results, after]] == ["11", "11", "11"]
        # The same sandbox process answered every time: only the first run compiled.
        assert [r.module_source for r in [*results, after]] == ["compiled", "memory", "memory"]
    finally:
        executor.close()
