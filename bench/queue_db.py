"""The queue on each database: claim+finish cost, round trips per task, and what an idle worker costs.

Both databases run here in this process: SQLite in a temporary data
directory, PostgreSQL in a throw-away cluster of Debian's binaries (the tests'
``support.postgres``). Tasks are staged through the platform's own operations;
the queue is then used exactly as a worker uses it.

* **claim+finish**: per task, one ``claim`` then one ``finish`` of a
  successful outcome (a task without files), wall time per pair, and round
  trips per call counted with SQLAlchemy's events (``support.round_trips``:
  statements, BEGIN/COMMIT/ROLLBACK, the pool's pre-ping). A finish also sends
  one wake-up, which is not on the engine: on PostgreSQL a NOTIFY on the
  notifier's own connection, on SQLite a datagram.
* **idle worker**: the waiting of ``WorkerLoop.run_forever`` (drain, claim,
  wait ``poll_seconds``) with nothing staged, CPU time of this process
  (``getrusage``, the listening thread included) and, on PostgreSQL, of the
  server processes serving this database (``/proc``), over the same wall
  time, as % of one core; beside it the 2 ms polling that PostgreSQL had
  before LISTEN/NOTIFY.

``python bench/queue_db.py [--quick]`` prints the tables.
"""

from __future__ import annotations

import resource
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

if __name__ == "__main__" and not __package__:
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
# The tests' helpers start PostgreSQL and count round trips; the benchmark reuses them.
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

import click
from sqlalchemy import text
from support.backends import InProcess, database_url, platform_admin
from support.postgres import PostgresCluster
from support.round_trips import RoundTrips

from bench.procfs import cpu_seconds
from bench.section import Log, Mode, Section, Target
from bench.stats import percentile, summarize
from teabox.platform.core import Platform
from teabox.platform.notify import FAST_POLL_SECONDS, Listener, PollingNotifier, Topic
from teabox.platform.settings import Settings
from teabox.platform.staged import Outcome
from teabox.platform.storage import Storage

TITLE = "Queue: claim and finish on SQLite and PostgreSQL"
ROUND_TRIP_TARGET = 2.0  # claim and finish each
IDLE_TARGET = 1.0  # % of one core per idle worker


def _stage(user: InProcess, function_id: str, count: int) -> None:
    for _ in range(count):
        user.call("invoke_task", task_id=user.task(function_id))


def _claim_and_finish(storage: Storage) -> None:
    run = storage.queue.claim("bench", lease_seconds=30)
    assert run is not None, "a staged task was expected"
    assert storage.queue.finish(run.task_id, "bench", run.attempt, Outcome(return_value=b"7"))


def _claim_finish(storage: Storage, counted: int, timed: int) -> dict[str, Any]:
    """Round trips of the first ``counted`` tasks; wall time of the next ``timed`` (events cost time too)."""
    trips = RoundTrips(storage.database)
    claims, finishes = [], []
    for _ in range(counted):
        with trips.counting():
            run = storage.queue.claim("bench", lease_seconds=30)
        claims.append(trips.count)
        assert run is not None, "a staged task was expected"
        with trips.counting():
            assert storage.queue.finish(run.task_id, "bench", run.attempt, Outcome(return_value=b"7"))
        finishes.append(trips.count)
    pairs = []
    for _ in range(timed):
        started = time.perf_counter()
        _claim_and_finish(storage)
        pairs.append((time.perf_counter() - started) * 1000)
    return {
        "tasks": timed,
        "p50_ms": summarize(pairs).median,
        "p95_ms": percentile(pairs, 0.95),
        "claim_round_trips": max(claims),
        "finish_round_trips": max(finishes),
    }


def _api_round_trips(storage: Storage, user: InProcess, function_id: str) -> dict[str, int]:
    """Round trips of the two requests around a task's run: ``invoke_task``, and ``get_task_result``
    once the task has finished (the caller's token already checked, as the service does first)."""
    trips = RoundTrips(storage.database)
    task_id = user.task(function_id)
    with trips.counting():
        user.call("invoke_task", task_id=task_id)
    invoke = trips.count
    _claim_and_finish(storage)
    with trips.counting():
        user.call("get_task_result", task_id=task_id)
    return {"invoke_round_trips": invoke, "result_round_trips": trips.count}


def _server_cpu_seconds(storage: Storage) -> float:
    """CPU time so far of the PostgreSQL processes serving this database (0 on SQLite)."""
    if storage.database.is_sqlite:
        return 0.0
    with storage.database.engine.connect() as connection:
        pids = connection.scalars(text("SELECT pid FROM pg_stat_activity WHERE datname = current_database()")).all()
    return cpu_seconds(list(pids))


def _idle(storage: Storage, listener: Listener, seconds: float) -> dict[str, float]:
    def cpu() -> float:
        usage = resource.getrusage(resource.RUSAGE_SELF)
        return usage.ru_utime + usage.ru_stime

    storage.queue.claim("idle", lease_seconds=30)  # connections open before the clock starts
    started, own, server = time.monotonic(), cpu(), _server_cpu_seconds(storage)
    while time.monotonic() - started < seconds:
        listener.drain()
        assert storage.queue.claim("idle", lease_seconds=30) is None
        listener.wait(listener.poll_seconds)
    wall = time.monotonic() - started
    return {
        "worker_pct": 100 * (cpu() - own) / wall,
        "server_pct": 100 * (_server_cpu_seconds(storage) - server) / wall,
    }


def _one_database(name: str, url: str | None, scratch: Path, mode: Mode, log: Log) -> dict[str, Any]:
    storage = Storage.open(scratch / name, database_url=url)
    try:
        # One user stages every task: no cap on how many may wait.
        admin = platform_admin(Platform(storage, Settings(max_queued_per_user=None)))
        owner, user = admin.new_user("FunctionOwner"), admin.new_user("DataOwner-org")
        function_id = owner.function()
        counted, timed = 10, mode.reps(300, 30)
        log(f"{name}: staging {counted + timed} tasks")
        _stage(user, function_id, counted + timed)
        log(f"{name}: claim+finish")
        row = {"database": name, **_claim_finish(storage, counted, timed)}
        row |= _api_round_trips(storage, user, function_id)
        idle_seconds = mode.reps(20, 3)
        log(f"{name}: an idle worker for {idle_seconds} s")
        listener = storage.notifier.listen(Topic.QUEUE)
        try:
            row["idle"] = _idle(storage, listener, idle_seconds)
        finally:
            listener.close()
        if not storage.database.is_sqlite:
            log(f"{name}: an idle worker polling every {FAST_POLL_SECONDS * 1000:.0f} ms, as before")
            polling = PollingNotifier().listen(Topic.QUEUE)
            try:
                row["idle_polling"] = _idle(storage, polling, idle_seconds)
            finally:
                polling.close()
        return row
    finally:
        storage.close()


def run(mode: Mode, log: Log) -> list[dict[str, Any]]:
    with tempfile.TemporaryDirectory(prefix="teabox-bench-queue-") as scratch:
        rows = [_one_database("SQLite", None, Path(scratch), mode, log)]
        log("starting a PostgreSQL cluster")
        cluster = PostgresCluster()
        try:
            url = database_url("postgres", cluster)
            rows.append(_one_database("PostgreSQL", url, Path(scratch), mode, log))
        finally:
            cluster.stop()
    return rows


def table(rows: list[dict[str, Any]]) -> str:
    lines = [
        "| database | claim+finish p50 / p95 | round trips: claim / finish | round trips: invoke / result "
        "| idle worker CPU | database server CPU |",
        "|---|---|---|---|---|---|",
    ]
    for row in rows:
        idle = row["idle"]
        server = f"{idle['server_pct']:.2f} %" if row["database"] != "SQLite" else "—"
        lines.append(
            f"| {row['database']} | {row['p50_ms']:.2f} / {row['p95_ms']:.2f} ms "
            f"| {row['claim_round_trips']} / {row['finish_round_trips']} "
            f"| {row['invoke_round_trips']} / {row['result_round_trips']} "
            f"| {idle['worker_pct']:.2f} % | {server} |"
        )
        if "idle_polling" in row:
            polling = row["idle_polling"]
            lines.append(
                f"| {row['database']}, polling every {FAST_POLL_SECONDS * 1000:.0f} ms (before) | | | "
                f"| {polling['worker_pct']:.2f} % | {polling['server_pct']:.2f} % |"
            )
    return "\n".join(lines)


def targets(rows: list[dict[str, Any]]) -> list[Target]:
    found = []
    for row in rows:
        name = row["database"]
        trips = max(row["claim_round_trips"], row["finish_round_trips"])
        found.append(Target(f"claim, finish round trips ({name})", ROUND_TRIP_TARGET, "<=", "round trips", trips))
        found.append(Target(f"idle worker CPU ({name})", IDLE_TARGET, "<=", "% of a core", row["idle"]["worker_pct"]))
    return found


def measure(mode: Mode, log: Log, cache_dir: Path) -> Section:
    """The suite's entry point (``cache_dir`` is unused: nothing is compiled here)."""
    rows = run(mode, log)
    markdown = (
        "Per task without files: one `claim` and one `finish` through `TaskQueue`, wall time per pair "
        "(PostgreSQL over TCP on 127.0.0.1, this cluster with fsync off; SQLite in WAL mode), and the most "
        "round trips one call took (statements, BEGIN/COMMIT/ROLLBACK and the pool's pre-ping, counted with "
        "SQLAlchemy's events; a finish also sends one wake-up outside the engine); beside them, those of the "
        "two requests around a task's run, `invoke_task` and `get_task_result` once it finished (after the "
        "token check the service makes first; over HTTP a long-poll answers from its waiter instead). "
        "An idle worker waits as "
        "`WorkerLoop.run_forever` does; its CPU is this process's (the listening thread included), the "
        "server's that of the PostgreSQL processes serving the database, both as % of one core.\n\n"
        + table(rows)
        + "\n"
    )
    return Section(TITLE, markdown, {"rows": rows}, targets=targets(rows))


@click.command()
@click.option("--quick", is_flag=True, help="Smoke run: 30 tasks, 3 s idle.")
def main(quick: bool) -> None:
    """Print the queue table."""
    mode = Mode(quick=quick)
    rows = run(mode, lambda message: click.echo(message, err=True))
    click.echo(table(rows))
    for t in targets(rows):
        verdict = "met" if t.met else "NOT met"
        click.echo(f"{t.name}: {t.measured:.2f} {t.unit} (target {t.direction} {t.limit:g}) {verdict}")


if __name__ == "__main__":
    main()
