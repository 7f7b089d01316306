"""Invocation: what one run of a trivial payload costs, cold and warm, and how many fit in a second.

``python bench/invocation.py [--quick]`` prints the warm-run figures alone, for
working on the executor's call path.
"""

from __future__ import annotations

import multiprocessing
import os
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

if __name__ == "__main__" and not __package__:
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import wasmtime

from bench import build
from bench.section import Log, Mode, Ratio, Section, Target
from bench.stats import Summary, percentile, summarize
from teabox.abi.argv import argv_strings, layout_argv
from teabox.executor import Executor, FailureKind, Limits
from teabox.executor.sandbox import SandboxRunner

TITLE = "Invocation"
PAYLOAD_SOURCE = Path(__file__).resolve().parent / "payloads" / "trivial.c"
ARGS = {"n": "1"}
PAGE = 65536


def trivial_payload() -> bytes:
    return build.payload(PAYLOAD_SOURCE)


def _timed(call: Callable[[], object], runs: int) -> list[float]:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        call()
        times.append(time.perf_counter() - start)
    return times


def teabox_call(executor: Executor, payload: bytes) -> Callable[[], object]:
    limits = Limits()

    def call() -> object:
        result = executor.run(payload, ARGS, limits=limits)
        if result.return_value != "2":
            raise RuntimeError(f"the trivial payload failed: {result.failure}")
        return result

    return call


def engine_alone_call(payload: bytes) -> Callable[[], object]:
    """The least code that does the same with wasmtime: fresh store and instance, argv, call."""
    engine = wasmtime.Engine()
    module = wasmtime.Module(engine, payload)
    strings = argv_strings(ARGS)

    def call() -> object:
        store = wasmtime.Store(engine)
        exports = wasmtime.Instance(store, module, []).exports(store)
        memory = exports["memory"]
        assert isinstance(memory, wasmtime.Memory)
        base = memory.data_len(store)
        block = layout_argv(strings, base)
        memory.grow(store, -(-len(block.data) // PAGE))
        memory.write(store, block.data, base)
        return str(exports["entrypoint"](store, block.argc, block.argv_address))  # type: ignore[operator]

    return call


def warm_runs(executor: Executor, payload: bytes, runs: int) -> tuple[list[float], list[float]]:
    """Per-run seconds around ``Executor.run`` and as its ``RunResult.wall_time`` reports."""
    call = teabox_call(executor, payload)
    for _ in range(50):
        call()
    outer, inner = [], []
    for _ in range(runs):
        start = time.perf_counter()
        result = call()
        outer.append(time.perf_counter() - start)
        inner.append(result.wall_time)  # type: ignore[attr-defined]
    return outer, inner


def cold_runs(payload: bytes, runs: int, root: Path) -> tuple[list[float], list[float]]:
    """First run in a new executor: compiling (empty cache), then loading the compiled module from disk."""
    compiled, from_disk = [], []
    for i in range(runs):
        cache = root / f"cold-{i}"
        result = Executor(cache).run(payload, ARGS)
        assert result.module_source == "compiled", result.module_source  # type: ignore[attr-defined]
        compiled.append(result.wall_time)
        result = Executor(cache).run(payload, ARGS)
        assert result.module_source == "disk", result.module_source  # type: ignore[attr-defined]
        from_disk.append(result.wall_time)
    return compiled, from_disk


_ENDLESS = wasmtime.wat2wasm(
    '(module (memory (export "memory") 1) (func (export "entrypoint") (param i32 i32) (result i32) (loop (br 0)) '
    "(i32.const 0)))"
)


def after_timeout(payload: bytes, runs: int, cache_dir: Path, *, spare: bool) -> list[float]:
    """The run right after a run killed at its time limit, with or without the sandbox's spare process."""
    executor = Executor(cache_dir, isolation="subprocess", sandbox_spare=spare)
    runner = executor._runner
    assert isinstance(runner, SandboxRunner)
    call = teabox_call(executor, payload)
    times = []
    for _ in range(runs):
        call()  # a warm process, and the spare started behind it
        runner.wait_for_spare()
        killed = executor.run(_ENDLESS, limits=Limits(timeout=0.1))
        assert killed.failure is not None and killed.failure.kind == FailureKind.TIMEOUT, killed.failure
        start = time.perf_counter()
        call()
        times.append(time.perf_counter() - start)
    executor.close()
    return times


def _runs_for(seconds: float, cache: str, payload: bytes, start_at: float) -> int:
    """Warm runs completed in ``seconds`` from ``start_at`` (a shared wall-clock instant)."""
    call = teabox_call(Executor(Path(cache)), payload)
    for _ in range(50):
        call()
    while time.time() < start_at:
        time.sleep(0.001)
    deadline, count = start_at + seconds, 0
    while time.time() < deadline:
        call()
        count += 1
    return count


def runs_per_second(payload: bytes, cache: Path, processes: int, seconds: float) -> float:
    """Throughput of ``processes`` processes, each with its own executor, all running at once."""
    context = multiprocessing.get_context("spawn")
    start_at = time.time() + 3.0 + processes  # every process is loaded and warm before the clock starts
    with context.Pool(processes) as pool:
        counts = pool.starmap(_runs_for, [(seconds, str(cache), payload, start_at)] * processes)
    return sum(counts) / seconds


def measure(mode: Mode, log: Log, cache_dir: Path) -> Section:
    payload = trivial_payload()
    executor = Executor(cache_dir)
    sandboxed = Executor(cache_dir, isolation="subprocess")
    warm_n = mode.reps(full=5000, quick=1000)
    log(f"invocation: {warm_n} warm runs in each mode, interleaved with the engine alone")
    alone = engine_alone_call(payload)
    for _ in range(50):
        alone()
    outer: list[float] = []
    inner: list[float] = []
    sub: list[float] = []
    bare: list[float] = []
    for _ in range(10):  # interleave in batches so drift hits every path alike
        o, i = warm_runs(executor, payload, warm_n // 10)
        outer += o
        inner += i
        sub += warm_runs(sandboxed, payload, warm_n // 10)[0]
        bare += _timed(alone, warm_n // 10)
    sandboxed.close()
    log("invocation: the run after a timeout, with and without the spare sandbox process")
    after_runs = mode.reps(full=10, quick=3)
    with_spare = summarize(after_timeout(payload, after_runs, cache_dir, spare=True))
    without_spare = summarize(after_timeout(payload, after_runs, cache_dir, spare=False))
    log("invocation: cold runs (compile, then load from the disk cache)")
    with tempfile.TemporaryDirectory(prefix="teabox-bench-cold-") as root:
        compiled, from_disk = cold_runs(payload, mode.reps(full=7, quick=3), Path(root))
    seconds = mode.reps(full=3, quick=1)
    cores = os.cpu_count() or 1
    log(f"invocation: runs per second, 1 process, {seconds} s")
    one = runs_per_second(payload, cache_dir, 1, seconds)
    log(f"invocation: runs per second, {cores} processes, {seconds} s")
    pool = runs_per_second(payload, cache_dir, cores, seconds)
    return _section(
        summarize(outer),
        summarize(inner),
        summarize(sub),
        summarize(bare),
        summarize(compiled),
        summarize(from_disk),
        (with_spare, without_spare),
        one,
        pool,
        cores,
        seconds,
    )


def _us(seconds: float) -> str:
    return f"{seconds * 1e6:,.1f} µs" if seconds < 1e-3 else f"{seconds * 1e3:,.2f} ms"


def _row(name: str, s: Summary, note: str = "") -> str:
    return (
        f"| {name} | {_us(s.median)} | {_us(s.minimum)} – {_us(percentile(s.values, 0.99))} | "
        f"{len(s.values):,} | {note} |"
    )


def _section(
    outer: Summary,
    inner: Summary,
    sub: Summary,
    bare: Summary,
    compiled: Summary,
    from_disk: Summary,
    after: tuple[Summary, Summary],
    one: float,
    pool: float,
    cores: int,
    seconds: int,
) -> Section:
    ratio = outer.median / bare.median
    lines = [
        (
            "A trivial payload (`bench/payloads/trivial.c`: returns `argc`), so the figures are the cost of a run "
            "itself: module lookup, a fresh store and instance, argv written into linear memory, the call, the result. "
            "The in-process executor (`Executor()`, deadline by epoch interruption) runs it on the calling thread; "
            'the production path (`Executor(isolation="subprocess")`, what workers and `teabox run` use) adds a '
            "round trip to a sandbox process that already holds the compiled module. The ≤ 100 µs target is for "
            "the in-process warm run."
        ),
        "",
        "| | median | min – p99 | runs | |",
        "|---|---|---|---|---|",
        _row("warm run, in-process, around `Executor.run`", outer, "cached module, fresh instance, default limits"),
        _row("warm run, in-process, `RunResult.wall_time`", inner, "as the executor reports it"),
        _row(
            "warm run, subprocess isolation, around `Executor.run`",
            sub,
            f"the production path; ×{sub.median / outer.median:.2f} the in-process run",
        ),
        _row(
            "the engine alone, same steps",
            bare,
            f"wasmtime `Store` + `Instance` + argv + call; teabox in-process ×{ratio:.2f}",
        ),
        _row(
            "run after a timeout, subprocess, spare process",
            after[0],
            "the killed process's replacement was started before the timeout",
        ),
        _row(
            "run after a timeout, subprocess, no spare",
            after[1],
            f"`Executor(sandbox_spare=False)`: waits for a new process; ×{after[1].median / after[0].median:.0f}",
        ),
        _row("cold run: compile", compiled, "first run in a new in-process executor with an empty cache"),
        _row("cold run: compiled module from disk", from_disk, "first run in a new in-process executor, cache on disk"),
        "",
        (
            f"Runs per second (warm, in-process, {seconds} s each, every process with its own `Executor`): "
            f"**{one:,.0f}/s** in one process, **{pool:,.0f}/s** in {cores} processes (one per core; "
            f"{pool / one:.2f}× one process; the processes scale only as far as the other core is free, see the "
            "load average under Machine and versions)."
        ),
    ]
    targets = [Target("warm run of a trivial payload, in-process executor", 100.0, "<=", "µs", outer.median * 1e6)]
    ratios = [
        Ratio("teabox / wasmtime alone", "warm run", ratio),
        Ratio("subprocess / in-process", "warm run", sub.median / outer.median),
        Ratio("cold / warm", "compile", compiled.median / outer.median),
        Ratio("cold / warm", "load from disk cache", from_disk.median / outer.median),
        Ratio(f"{cores} processes / 1", "runs per second", pool / one),
    ]
    data = {
        "warm_outer_seconds": outer.to_dict(),
        "warm_wall_time_seconds": inner.to_dict(),
        "warm_subprocess_seconds": sub.to_dict(),
        "engine_alone_seconds": bare.to_dict(),
        "cold_compile_seconds": compiled.to_dict(),
        "cold_disk_seconds": from_disk.to_dict(),
        "after_timeout_spare_seconds": after[0].to_dict(),
        "after_timeout_no_spare_seconds": after[1].to_dict(),
        "runs_per_second_1": one,
        f"runs_per_second_{cores}": pool,
    }
    for key in ("warm_outer_seconds", "warm_wall_time_seconds", "warm_subprocess_seconds", "engine_alone_seconds"):
        data[key].pop("values")  # thousands of runs: keep the summary only
    return Section(TITLE, "\n".join(lines) + "\n", data, targets, ratios)


def main() -> None:
    quick = "--quick" in sys.argv[1:]
    payload = trivial_payload()
    runs = 1000 if quick else 10000
    with tempfile.TemporaryDirectory(prefix="teabox-bench-") as cache:
        outer, inner = warm_runs(Executor(Path(cache)), payload, runs)
        sandboxed = Executor(Path(cache), isolation="subprocess")
        sub = warm_runs(sandboxed, payload, runs)[0]
        sandboxed.close()
    bare = _timed(engine_alone_call(payload), runs)
    print(
        f"warm run, in-process, around Executor.run: {_us(summarize(outer).median)}"
        f" (p99 {_us(percentile(outer, 0.99))})"
    )
    print(f"warm run, in-process, RunResult.wall_time: {_us(summarize(inner).median)}")
    print(f"warm run, subprocess, around Executor.run: {_us(summarize(sub).median)} (p99 {_us(percentile(sub, 0.99))})")
    print(f"engine alone, same steps:                  {_us(summarize(bare).median)}")


if __name__ == "__main__":
    main()
