"""End to end on each backend: trivial tasks through ``teabox serve`` on the embedded default and on PostgreSQL + S3.

Both platforms run at once (two ``teabox serve`` processes with two workers each, as in the End to end
section), and the measurements take turns between them, a batch on one then a batch on the other, so that
load from elsewhere on a shared machine falls on both alike. PostgreSQL is a durable throw-away cluster
(``fsync`` on) and the blobs (the payload) live in a SeaweedFS S3 server: see bench/backends.py.

Beside the wall-clock figures, CPU per task: the server and its workers (their process group), and on
PostgreSQL + S3 the database's and the store's processes too; and an idle platform's CPU, as % of a core.

``python bench/end_to_end_backends.py [--quick]`` prints the section alone.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

if __name__ == "__main__" and not __package__:
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.backends import EMBEDDED, Backend, postgres_and_s3
from bench.end_to_end import Platform, Timing, latencies, prepare_trivial, running_platform, throughput
from bench.procfs import group_cpu_seconds
from bench.section import Log, Mode, Ratio, Section, Target
from bench.stats import percentile, summarize

TITLE = "End to end on each backend"
P50_TARGET_MS = 25.0


@dataclass
class Figures:
    """What one backend measured, with the 1-minute load average beside each part."""

    timings: list[Timing]
    latency_load: list[float]
    per_second: float = 0.0
    platform_cpu: float = 0.0  # seconds per task: the server and its workers
    service_cpu: float = 0.0  # seconds per task: PostgreSQL and the S3 server
    client_cpu: float = 0.0
    throughput_load: float = 0.0
    idle_platform_pct: float = 0.0
    idle_service_pct: float = 0.0
    idle_load: float = 0.0
    commits_per_task: float | None = None  # PostgreSQL: commits of the platform's database per task
    flushes_per_task: float | None = None  # PostgreSQL: WAL flushes (fsync) per task, the cluster's

    @property
    def latencies(self) -> list[float]:
        return [t.total for t in self.timings]

    def median(self, part: str) -> float:
        """The median of one part of the timings: ``total``, ``invoke``, ``worker`` or ``between``."""
        return summarize([getattr(t, part) for t in self.timings]).median

    def to_dict(self) -> dict[str, Any]:
        return {
            "latency_seconds": summarize(self.latencies).to_dict(),
            "p99_seconds": percentile(self.latencies, 0.99),
            "breakdown_median_seconds": {part: self.median(part) for part in ("invoke", "worker", "between")},
            "latency_load_average": self.latency_load,
            **{k: v for k, v in vars(self).items() if k not in ("timings", "latency_load")},
        }


def _load() -> float:
    return os.getloadavg()[0]


def _throughput(p: Platform, backend: Backend, count: int, figures: Figures) -> None:
    service = backend.service_cpu()
    measured = throughput(p, prepare_trivial, count, include_create=False)
    figures.service_cpu = (backend.service_cpu() - service) / count
    figures.per_second, figures.platform_cpu, figures.client_cpu = (
        measured.per_second,
        measured.platform_cpu,
        measured.client_cpu,
    )
    figures.throughput_load = _load()


def _idle(p: Platform, backend: Backend, seconds: float, figures: Figures) -> None:
    """The whole platform's CPU (server, workers, their sandboxes) while nothing is asked of it."""
    assert p.server.process is not None
    group = p.server.process.pid
    started, own, service = time.monotonic(), group_cpu_seconds(group), backend.service_cpu()
    time.sleep(seconds)
    wall = time.monotonic() - started
    figures.idle_platform_pct = 100 * (group_cpu_seconds(group) - own) / wall
    figures.idle_service_pct = 100 * (backend.service_cpu() - service) / wall
    figures.idle_load = _load()


def _count_commits(
    p: Platform, commits: Callable[[], tuple[int, int]], before: tuple[int, int], tasks: int, figures: Figures
) -> None:
    """Commits and WAL flushes per task over one batch, less those of setting the tasks up.

    Each task of a batch is created just before it is invoked, so a second batch is set up alone (created,
    not invoked) and its counts are taken away: what is left is invoke → result.
    """
    during = commits()
    for _ in range(tasks):
        prepare_trivial(p)
    setup = commits()
    invoked = [(during[i] - before[i]) - (setup[i] - during[i]) for i in range(2)]
    figures.commits_per_task, figures.flushes_per_task = invoked[0] / tasks, invoked[1] / tasks


def run(mode: Mode, log: Log) -> dict[str, Figures]:
    rounds, batch = mode.reps(6, 2), mode.reps(50, 10)
    tasks_per_second, idle_seconds = mode.reps(300, 40), mode.reps(20, 2)
    with tempfile.TemporaryDirectory(prefix="teabox-bench-backends-") as tmp, ExitStack() as stack:
        log("backends: starting PostgreSQL and SeaweedFS")
        scaled = stack.enter_context(postgres_and_s3())
        backends = {b.name: b for b in (EMBEDDED, scaled)}
        platforms: dict[str, Platform] = {}
        for n, (name, backend) in enumerate(backends.items()):
            log(f"backends: teabox serve on {name}")
            platforms[name] = stack.enter_context(running_platform(Path(tmp) / str(n), backend))
            latencies(platforms[name], prepare_trivial, 10)  # warm-up: workers load and compile the payload
        figures = {name: Figures([], []) for name in backends}
        for r in range(rounds):
            log(f"backends: round {r + 1}/{rounds}, {batch} trivial tasks one at a time on each")
            for name, p in platforms.items():
                commits = backends[name].commits
                before = commits() if commits is not None else (0, 0)
                figures[name].timings += latencies(p, prepare_trivial, batch)
                figures[name].latency_load.append(_load())
                if commits is not None and r == 0:  # one round, counted without the setting up of its tasks
                    _count_commits(p, commits, before, batch, figures[name])
        for name, p in platforms.items():
            log(f"backends: {name}, {tasks_per_second} tasks from 8 clients")
            _throughput(p, backends[name], tasks_per_second, figures[name])
        for name, p in platforms.items():
            log(f"backends: {name}, idle for {idle_seconds} s")
            _idle(p, backends[name], idle_seconds, figures[name])
    return figures


def _ms(seconds: float) -> str:
    return f"{seconds * 1e3:.1f} ms"


def table(figures: dict[str, Figures]) -> str:
    lines = [
        "| backend | p50 | p99 | tasks | load (1 min) | tasks/s, 8 clients | CPU per task: server + workers "
        "| CPU per task: database + store | load (1 min) |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for name, f in figures.items():
        lat = summarize(f.latencies)
        load = f"{min(f.latency_load):.1f}–{max(f.latency_load):.1f}"
        service = _ms(f.service_cpu) if name != EMBEDDED.name else "—"
        lines.append(
            f"| {name} | {_ms(lat.median)} | {_ms(percentile(f.latencies, 0.99))} | {len(f.latencies)} | {load} "
            f"| {f.per_second:.0f} | {_ms(f.platform_cpu)} | {service} | {f.throughput_load:.1f} |"
        )
    lines += [
        "",
        "An idle platform (nothing staged, nobody waiting), as % of one core:",
        "",
        "| backend | server + 2 workers | database + store | load (1 min) |",
        "|---|---|---|---|",
    ]
    for name, f in figures.items():
        service = f"{f.idle_service_pct:.2f} %" if name != EMBEDDED.name else "—"
        lines.append(f"| {name} | {f.idle_platform_pct:.2f} % | {service} | {f.idle_load:.1f} |")
    lines += [
        "",
        "Where a task's time goes (medians, one task at a time; the parts as in the End to end section):",
        "",
        "| backend | invoke request | worker stages | the rest (queue, record, notify) | total |",
        "|---|---|---|---|---|",
    ]
    for name, f in figures.items():
        parts = " | ".join(_ms(f.median(part)) for part in ("invoke", "worker", "between", "total"))
        lines.append(f"| {name} | {parts} |")
    for name, f in figures.items():
        if f.commits_per_task is not None and f.flushes_per_task is not None:
            lines += [
                "",
                f"On {name}, invoking a task and getting its result took {f.commits_per_task:.1f} commits of the "
                f"platform's database and {f.flushes_per_task:.1f} WAL flushes per task (PostgreSQL's own counts, "
                "`pg_stat_database.xact_commit` and `pg_stat_wal.wal_sync`, over one batch less the setting up of "
                "as many tasks): with `synchronous_commit` on, every flush is a wait for the disk, which does not "
                "depend on the machine's load but on its disk.",
            ]
    return "\n".join(lines)


def measure(mode: Mode, log: Log, cache_dir: Path) -> Section:
    """The suite's entry point (``cache_dir`` is unused: the server compiles the payload itself)."""
    figures = run(mode, log)
    embedded, scaled = (summarize(f.latencies).median for f in figures.values())
    scaled_name = list(figures)[1]
    markdown = (
        "Trivial tasks (the End to end section's payload, no data) through two `teabox serve` processes running "
        "side by side, 2 workers each: one on the embedded default, one on PostgreSQL (a throw-away cluster with "
        "`fsync` on, over TCP on 127.0.0.1) with its blobs in a SeaweedFS S3 server. Latency is invoke request → "
        "result, one task at a time, in batches that alternate between the two platforms. Throughput is 8 client "
        "threads at once on tasks set up beforehand. CPU per task is read from /proc over the throughput run; "
        "on a loaded machine wall-clock figures stretch while CPU figures mostly do not. All of it shares the "
        "machine's cores: the clients, both servers, their workers, PostgreSQL and SeaweedFS.\n\n"
        + table(figures)
        + "\n"
    )
    targets = [
        Target(f"end to end, trivial task, p50 ({scaled_name})", P50_TARGET_MS, "<=", "ms", scaled * 1e3),
    ]
    ratios = [Ratio("PostgreSQL + S3 / embedded", "trivial p50", scaled / embedded)]
    return Section(TITLE, markdown, {name: f.to_dict() for name, f in figures.items()}, targets, ratios)


def main() -> None:
    from bench.run import console_log

    print(measure(Mode(quick="--quick" in sys.argv[1:]), console_log(), Path(tempfile.gettempdir())).markdown)


if __name__ == "__main__":
    main()
