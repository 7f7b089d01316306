"""Compute: the same C kernels natively and as payloads under every engine, side by side.

Repetitions are interleaved (native, wasmtime, teabox, ... then again), so a
burst of load from elsewhere on the machine hits every engine alike. Every
ratio divides two medians measured at the same size in this run.

``python bench/compute.py [--quick]`` prints the table alone.
"""

from __future__ import annotations

import math
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

if __name__ == "__main__" and not __package__:
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.engines import ComputeEngine, EngineFailed, Run, all_engines
from bench.section import Log, Mode, Ratio, Section, Target
from bench.stats import Summary, geometric_mean, summarize
from bench.workloads import KERNELS, Kernel

TITLE = "Compute"
JIT_WARMUPS = 1  # the first run compiles the module (teabox: and fills its cache)


@dataclass
class Cell:
    """One engine on one kernel: its runs, at one size."""

    n: int
    runs: list[Run] = field(default_factory=list)
    error: str | None = None

    @property
    def time(self) -> Summary:
        return summarize([r.seconds for r in self.runs])


@dataclass
class KernelResult:
    kernel: Kernel
    cells: dict[str, Cell] = field(default_factory=dict)  # engine name -> cell
    native: dict[int, Cell] = field(default_factory=dict)  # size -> native cell at that size

    def ratio(self, engine: str, baseline: str = "native") -> float | None:
        cell = self.cells.get(engine)
        if cell is None or cell.error or not cell.runs:
            return None
        base = self.native.get(cell.n) if baseline == "native" else self.cells.get(baseline)
        if base is None or base.error or not base.runs or base.n != cell.n:
            return None
        return cell.time.median / base.time.median


def _size(engine: ComputeEngine, kernel: Kernel, mode: Mode) -> int:
    return kernel.size(mode.tier if engine.tier == "main" else engine.tier)


def _repetitions(engine: ComputeEngine, mode: Mode) -> int:
    if engine.tier == "tiny":
        return mode.reps(full=2, quick=1)
    if engine.tier == "quick":  # an interpreter: each run takes about ten times as long
        return mode.reps(full=3, quick=2)
    return mode.reps(full=5, quick=3)


def _measure_kernel(kernel: Kernel, engines: list[ComputeEngine], mode: Mode, log: Log) -> KernelResult:
    result = KernelResult(kernel)
    native = next(e for e in engines if e.name == "native")
    # group engines by the size they run at; native runs beside every group
    groups: dict[int, list[ComputeEngine]] = {}
    for engine in engines:
        if engine is not native:
            groups.setdefault(_size(engine, kernel, mode), []).append(engine)
    for n, members in groups.items():
        native_cell = result.native.setdefault(n, Cell(n))
        for engine in members:
            result.cells[engine.name] = Cell(n)
        for engine in members:
            if engine.tier == "main":
                for _ in range(JIT_WARMUPS):
                    _run_into(engine, kernel, n, result.cells[engine.name])
                result.cells[engine.name].runs.clear()
        rounds = max(_repetitions(e, mode) for e in members)
        for round_number in range(rounds):
            log(f"compute: {kernel.name} n={n:,} round {round_number + 1}/{rounds}")
            _run_into(native, kernel, n, native_cell)
            for engine in members:
                if round_number < _repetitions(engine, mode):
                    _run_into(engine, kernel, n, result.cells[engine.name])
    result.cells["native"] = result.native[kernel.size(mode.tier)]
    return result


def _run_into(engine: ComputeEngine, kernel: Kernel, n: int, cell: Cell) -> None:
    if cell.error:
        return
    try:
        cell.runs.append(engine.run(kernel, n))
    except EngineFailed as exc:
        cell.error = str(exc)


def _check_checksums(result: KernelResult) -> list[str]:
    """Every engine must compute what native code computes at the same size."""
    problems = []
    for name, cell in result.cells.items():
        reference = result.native.get(cell.n)
        if cell.error or reference is None or not reference.runs:
            continue
        expected = reference.runs[0].checksum
        wrong = {r.checksum for r in cell.runs} - {expected}
        if wrong:
            problems.append(
                f"{result.kernel.name}: {name} returned checksum {sorted(wrong)} at n={cell.n:,}, native {expected}"
            )
    return problems


def measure(mode: Mode, log: Log, cache_dir: Path) -> Section:
    engines = all_engines(cache_dir)
    skipped = {e.name: reason for e in engines if (reason := e.unavailable())}
    usable = [e for e in engines if e.name not in skipped]
    results = [_measure_kernel(k, usable, mode, log) for k in KERNELS]
    problems = [p for r in results for p in _check_checksums(r)]
    return _section(results, usable, skipped, problems, mode)


def _fmt_seconds(seconds: float) -> str:
    if seconds >= 100:
        return f"{seconds:,.0f} s"
    if seconds >= 1:
        return f"{seconds:.2f} s"
    if seconds >= 1e-3:
        return f"{seconds * 1e3:.1f} ms"
    return f"{seconds * 1e6:.0f} µs"


def _geomean(results: list[KernelResult], engine: str, baseline: str = "native") -> float | None:
    ratios = [r.ratio(engine, baseline) for r in results]
    present = [x for x in ratios if x is not None]
    return geometric_mean(present) if present and len(present) == len(ratios) else None


def _section(
    results: list[KernelResult], engines: list[ComputeEngine], skipped: dict[str, str], problems: list[str], mode: Mode
) -> Section:
    names = [e.name for e in engines]
    labels = {e.name: e.label for e in engines}
    lines = [
        (
            "Each kernel is one C source with no libc, built natively with `gcc -O2` (the baseline) and as a "
            "wasm32 payload, then run under each engine. Time is the median of the repetitions, with min–max "
            "beneath; the ratio is to native code at the same size in this run (lower is better)."
        ),
        "",
        "| kernel | n | " + " | ".join(labels[n] for n in names) + " |",
        "|---|---|" + "---|" * len(names),
    ]
    for r in results:
        main_n = r.cells["native"].n
        row = [f"`{r.kernel.name}`", f"{main_n:,}"]
        for name in names:
            cell = r.cells.get(name)
            if cell is None:
                row.append("–")
            elif cell.error:
                row.append("failed")
            else:
                t = cell.time
                size = "" if cell.n == main_n else f" (n={cell.n:,})"
                ratio = r.ratio(name)
                ratio_text = "" if name == "native" or ratio is None else f" **×{ratio:.2f}**"
                row.append(
                    f"{_fmt_seconds(t.median)}{ratio_text}{size}<br><sub>{_fmt_seconds(t.minimum)}–"
                    f"{_fmt_seconds(t.maximum)}, {len(t.values)} runs</sub>"
                )
        lines.append("| " + " | ".join(row) + " |")
    lines += [
        "",
        "Geometric mean of the ratios:",
        "",
        "| engine | / native gcc -O2 | / wasmtime alone |",
        "|---|---|---|",
    ]
    for name in names:
        if name == "native":
            continue
        g_native, g_engine = _geomean(results, name), _geomean(results, name, "wasmtime")
        lines.append(
            f"| {labels[name]} | {'–' if g_native is None else f'{g_native:.2f}'} | "
            f"{'–' if g_engine is None else f'{g_engine:.2f}'} |"
        )
    lines += ["", _overhead_note(results), "", _outer_note(results)]
    lines += ["", "How each engine was run:", ""]
    lines += [f"- **{e.label}**: {e.note}." for e in engines]
    lines += [f"- **{name}**: skipped — {reason}." for name, reason in skipped.items()]
    interpreters = [e for e in engines if e.tier != "main"]
    note = _interpreter_note(results, interpreters)
    if note:
        lines += ["", note]
    lines += ["", "Kernels:", ""] + [f"- `{r.kernel.name}`: {r.kernel.what}." for r in results]
    if problems:
        lines += ["", "**Checksum mismatches** (these engines computed something else):", ""]
        lines += [f"- {p}" for p in problems]
    else:
        lines += ["", "Every engine returned the native build's checksum for every kernel and size."]

    teabox_native = _geomean(results, "teabox")
    teabox_engine = _geomean(results, "teabox", "wasmtime")
    targets = [
        Target("compute, teabox with limits on / native gcc -O2, geometric mean", 1.5, "<=", "×", teabox_native),
        Target("compute, teabox with limits on / the engine alone, geometric mean", 1.1, "<=", "×", teabox_engine),
    ]
    ratios = [
        Ratio(f"{labels[name]} / native", r.kernel.name, ratio)
        for name in names
        if name != "native"
        for r in results
        if (ratio := r.ratio(name)) is not None
    ] + [
        Ratio(f"{labels['teabox']} / {labels['wasmtime']}", r.kernel.name, ratio)
        for r in results
        if (ratio := r.ratio("teabox", "wasmtime")) is not None
    ]
    data = {
        "kernels": {
            r.kernel.name: {
                name: {
                    "n": c.n,
                    "error": c.error,
                    "checksum": c.runs[0].checksum if c.runs else None,
                    "seconds": c.time.to_dict() if c.runs else None,
                    "outer_seconds": summarize([x.outer_seconds for x in c.runs]).to_dict()
                    if c.runs and c.runs[0].outer_seconds is not None
                    else None,
                    "ratio_to_native": r.ratio(name),
                }
                for name, c in r.cells.items()
            }
            | {f"native@{n}": {"n": n, "seconds": c.time.to_dict()} for n, c in r.native.items() if c.runs}
            for r in results
        },
        "geomean_to_native": {name: _geomean(results, name) for name in names if name != "native"},
        "geomean_to_wasmtime": {name: _geomean(results, name, "wasmtime") for name in names if name != "native"},
        "skipped": skipped,
        "checksum_problems": problems,
    }
    return Section(TITLE, "\n".join(lines) + "\n", data, targets, ratios)


def _overhead_note(results: list[KernelResult]) -> str:
    """What each way of enforcing the deadline costs over the bare engine, measured rather than guessed."""
    production = _geomean(results, "teabox", "wasmtime")
    in_process = _geomean(results, "teabox_inprocess", "wasmtime")
    epoch = _geomean(results, "wasmtime_epoch", "wasmtime")
    if production is None or in_process is None or epoch is None:
        return ""
    worst = max(results, key=lambda r: r.ratio("wasmtime_epoch", "wasmtime") or 0.0)
    share = math.log(epoch) / math.log(in_process) if in_process > 1 and epoch > 1 else 0.0
    return (
        f"teabox (limits on), the production path, runs each payload in a sandbox process that is killed at its "
        f"deadline, so the compiled code carries no checks: ×{production:.2f} the bare engine (geometric mean). "
        f"The in-process executor stops a payload at its deadline by epoch interruption instead: ×{in_process:.2f}. "
        f"The same engine with only epoch interruption switched on (no teabox code involved) is already "
        f"×{epoch:.2f} (worst `{worst.kernel.name}` ×{worst.ratio('wasmtime_epoch', 'wasmtime') or 0:.2f})"
        + (
            f", so the epoch checks account for about {min(share, 1.0):.0%} of the in-process overhead (on a log "
            "scale)."
            if share
            else "."
        )
        + " Epoch interruption makes compiled code load and compare the epoch counter at every loop back-edge "
        "and function entry, which costs most in tight inner loops and call-heavy code."
    )


def _outer_note(results: list[KernelResult]) -> str:
    """teabox's figures are RunResult.wall_time; say how far the time around the call differs."""
    gaps = []
    for r in results:
        cell = r.cells.get("teabox")
        if cell is None or cell.error or not cell.runs or cell.runs[0].outer_seconds is None:
            continue
        outer = summarize([run.outer_seconds or 0.0 for run in cell.runs]).median
        gaps.append((outer - cell.time.median, cell.time.median, r.kernel.name))
    if not gaps:
        return ""
    worst, base, name = max(gaps)
    return (
        "teabox's times above are `RunResult.wall_time`; measured around the `Executor.run` call instead, the "
        f"medians are at most {worst * 1e6:.0f} µs longer (`{name}`, {worst / base:.2%} of its run)."
    )


def _interpreter_note(results: list[KernelResult], interpreters: list[ComputeEngine]) -> str:
    """Interpreters run at smaller sizes; say so, and extrapolate their time to the run's size."""
    parts = []
    for engine in interpreters:
        estimates = []
        for r in results:
            cell = r.cells.get(engine.name)
            full_n = r.cells["native"].n
            if cell is None or cell.error or not cell.runs or cell.n == full_n:
                continue
            scale = r.kernel.work(full_n) / r.kernel.work(cell.n)
            estimates.append(f"`{r.kernel.name}` ≈ {_fmt_seconds(cell.time.median * scale)}")
        if estimates:
            parts.append(
                f"**{engine.label}** is too slow for this run's sizes, so it ran at the sizes shown in brackets, "
                "and its ratio is to native code measured at that same size in this run. Extrapolated per unit "
                "of work (each kernel's work model in `bench/workloads.py`, approximate) to this run's sizes, "
                "it would take: " + ", ".join(estimates) + "."
            )
    return "\n\n".join(parts)


def main() -> None:
    from bench.run import console_log

    mode = Mode(quick="--quick" in sys.argv[1:])
    with tempfile.TemporaryDirectory(prefix="teabox-bench-") as cache:
        section = measure(mode, console_log(), Path(cache))
    print(section.markdown)
    for target in section.targets:
        print(f"{target.name}: {target.measured} (target {target.direction} {target.limit}) met={target.met}")


if __name__ == "__main__":
    main()
