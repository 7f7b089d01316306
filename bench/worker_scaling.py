"""Compute-bound tasks per second with 1, 2 and 4 workers: does a second worker double the work done?

Three ``teabox serve`` processes on the embedded default run side by side with ``--workers`` 1, 2 and 4.
Each round hands every one of them the same batch of compute-bound tasks (the compute section's naive
recursive Fibonacci kernel, same ``n`` for every task), all invoked at once by client threads, and
measures tasks per second from the first invoke to the last result. The configurations take turns within
each round, so load from elsewhere falls on all of them. Every result is checked against the same
payload run directly by ``Executor.run``.

Beside the wall clock: how many cores the platform kept busy (its CPU seconds over the batch's wall
time), which shows whether a missing speedup came from the platform or from a machine with no core free.

``python bench/worker_scaling.py [--quick]`` prints the section alone.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

if __name__ == "__main__" and not __package__:
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench import build
from bench.end_to_end import Platform, running_platform
from bench.procfs import group_cpu_seconds
from bench.section import Log, Mode, Ratio, Section, Target
from bench.stats import summarize
from bench.workloads import KERNELS
from teabox.client.requests import FunctionArgument
from teabox.executor import Executor

TITLE = "Compute-bound tasks and the number of workers"
WORKER_COUNTS = (1, 2, 4)
TWO_WORKERS_TARGET = 1.8
KERNEL = next(k for k in KERNELS if k.name == "fib")


@dataclass
class Batches:
    """One configuration's batches: tasks per second, cores kept busy, and the load average at each."""

    per_second: list[float] = field(default_factory=list)
    cores_busy: list[float] = field(default_factory=list)
    cpu_per_task: list[float] = field(default_factory=list)
    load: list[float] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "tasks_per_second": summarize(self.per_second).to_dict(),
            "cores_busy": summarize(self.cores_busy).to_dict(),
            "cpu_seconds_per_task": summarize(self.cpu_per_task).to_dict(),
            "load_average": self.load,
        }


def _batch(p: Platform, function_id: str, n: int, count: int, expected: str) -> tuple[float, float, float]:
    """``count`` tasks invoked at once; tasks per second, cores busy and platform CPU seconds per task."""
    assert p.server.process is not None
    group = p.server.process.pid
    tasks = [p.client_for(p.user).create_task(function_id, {"n": str(n)}) for _ in range(count)]

    def run(task_id: str) -> str | None:
        client = p.client_for(p.user)
        client.invoke_task(task_id)
        return client.wait_for_task(task_id).return_value

    with ThreadPoolExecutor(count) as pool:
        cpu, start = group_cpu_seconds(group), time.perf_counter()
        values = list(pool.map(run, tasks))
        wall, cpu = time.perf_counter() - start, group_cpu_seconds(group) - cpu
    wrong = [v for v in values if v != expected]
    if wrong:
        raise RuntimeError(f"fib({n}) returned {wrong[0]!r} on the platform, {expected!r} by Executor.run")
    return count / wall, cpu / wall, cpu / count


def run(mode: Mode, log: Log, cache_dir: Path) -> tuple[int, int, dict[int, Batches]]:
    n, count, rounds = mode.reps(39, 27), mode.reps(16, 4), mode.reps(4, 1)
    payload = build.payload(KERNEL.source)
    executor = Executor(cache_dir, isolation="subprocess")  # as the workers run payloads
    try:
        expected = executor.run(payload, {"n": str(n)}).return_value
    finally:
        executor.close()
    assert expected is not None
    batches = {workers: Batches() for workers in WORKER_COUNTS}
    with tempfile.TemporaryDirectory(prefix="teabox-bench-workers-") as tmp, ExitStack() as stack:
        platforms, functions = {}, {}
        for workers in WORKER_COUNTS:
            log(f"workers: teabox serve --workers {workers}")
            p = platforms[workers] = stack.enter_context(running_platform(Path(tmp) / str(workers), workers=workers))
            functions[workers] = p.vendor.register_function(
                name="fib",
                description="naive recursive Fibonacci",
                executor_type="wamr",
                payload=payload,
                arguments=[FunctionArgument("n", str(n))],
            )
            _batch(p, functions[workers], n, workers, expected)  # warm-up: every worker compiles the payload
        for r in range(rounds):
            log(f"workers: round {r + 1}/{rounds}, {count} tasks of fib({n}) on each")
            for workers, p in platforms.items():
                per_second, busy, cpu = _batch(p, functions[workers], n, count, expected)
                batch = batches[workers]
                batch.per_second.append(per_second)
                batch.cores_busy.append(busy)
                batch.cpu_per_task.append(cpu)
                batch.load.append(os.getloadavg()[0])
    return n, count, batches


def measure(mode: Mode, log: Log, cache_dir: Path) -> Section:
    n, count, batches = run(mode, log, cache_dir)
    one = summarize(batches[1].per_second).median
    cores = os.cpu_count() or 1
    lines = [
        f"`teabox serve` on the embedded default with 1, 2 and 4 worker processes side by side; each batch is "
        f"{count} tasks of the `fib` kernel with n = {n}, invoked at once by {count} client threads, and the "
        "configurations take turns within each round. Tasks/s: the batch's tasks over the wall time from the "
        "first invoke to the last result (median of the rounds). Cores busy: the server's and its workers' CPU "
        f"seconds over that wall time; with the machine to itself, N workers would keep min(N, {cores}) cores "
        "busy. Load: the 1-minute load average after each batch.",
        "",
        "| workers | tasks/s | speedup over 1 worker | cores busy | CPU per task | load (1 min) |",
        "|---|---|---|---|---|---|",
    ]
    for workers, b in batches.items():
        per_second = summarize(b.per_second)
        lines.append(
            f"| {workers} | {per_second.median:.2f} <sub>({per_second.minimum:.2f}–{per_second.maximum:.2f})</sub> "
            f"| {per_second.median / one:.2f}× | {summarize(b.cores_busy).median:.2f} "
            f"| {summarize(b.cpu_per_task).median * 1e3:.0f} ms | {min(b.load):.1f}–{max(b.load):.1f} |"
        )
    per_round = ", ".join(
        f"{two / one_round:.2f}×" for one_round, two in zip(batches[1].per_second, batches[2].per_second, strict=True)
    )
    lines += [
        "",
        f"2 workers / 1 worker in each round, in order: {per_round} (a round where other work left the cores free "
        "shows what the platform can do; the median shows what it got).",
        "",
        f"This machine has {cores} cores, so {max(WORKER_COUNTS)} workers cannot beat {cores}: the extra workers "
        "only take turns on the same cores. On a shared machine the speedup also falls short whenever other "
        "work holds a core; the cores-busy column shows how much of the machine the platform got.",
    ]
    two = summarize(batches[2].per_second).median / one
    targets = [Target("compute-bound tasks/s, 2 workers / 1 worker", TWO_WORKERS_TARGET, ">=", "×", two)]
    ratios = [
        Ratio("N workers / 1 worker", f"{workers} workers, tasks/s", summarize(b.per_second).median / one)
        for workers, b in batches.items()
        if workers != 1
    ]
    data = {"n": n, "tasks_per_batch": count} | {str(w): b.to_dict() for w, b in batches.items()}
    return Section(TITLE, "\n".join(lines) + "\n", data, targets, ratios)


def main() -> None:
    from bench.run import console_log

    print(measure(Mode(quick="--quick" in sys.argv[1:]), console_log(), Path(tempfile.mkdtemp())).markdown)


if __name__ == "__main__":
    main()
