"""The one command: ``python bench/run.py [--quick]`` measures everything and writes bench/results/.

Sections run one after another in this process (end to end starts its own
``teabox serve``), each handing back figures, targets and ratios for the report.
"""

from __future__ import annotations

import importlib
import sys
import tempfile
import time
from pathlib import Path

if __name__ == "__main__" and not __package__:
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import click
from rich.console import Console

from bench import machine, report
from bench.report import targets_table
from bench.section import Log, Mode, Section, skipped

RESULTS_DIR = Path(__file__).resolve().parent / "results"
# section name -> module with ``measure(mode, log, cache_dir) -> Section``
SECTIONS = {
    "compute": "bench.compute",
    "invocation": "bench.invocation",
    "hostcalls": "bench.hostcalls",
    "files": "bench.files",
    "end_to_end": "bench.end_to_end",
    "queue_db": "bench.queue_db",
    "backends": "bench.end_to_end_backends",
    "workers": "bench.worker_scaling",
    "big_input": "bench.big_input",
}
console = Console(stderr=True)


def console_log() -> Log:
    """Progress on stderr, one line per step, so a long run shows it is alive."""
    started = time.perf_counter()

    def log(message: str) -> None:
        console.print(f"[dim]{time.perf_counter() - started:6.1f}s[/dim] {message}", highlight=False)

    return log


def run_sections(names: list[str], mode: Mode, log: Log) -> list[Section]:
    sections = []
    with tempfile.TemporaryDirectory(prefix="teabox-bench-cache-") as cache:
        for name in names:
            module = importlib.import_module(SECTIONS[name])
            log(f"[bold]{module.TITLE}[/bold]")
            try:
                sections.append(module.measure(mode, log, Path(cache)))
            except Exception as exc:
                console.print_exception(max_frames=5)
                sections.append(skipped(module.TITLE, f"the measurement failed: {type(exc).__name__}: {exc}"))
    return sections


@click.command()
@click.option("--quick", is_flag=True, help="Smoke run: small sizes, few repetitions (under a minute).")
@click.option(
    "--only",
    "only",
    multiple=True,
    type=click.Choice(list(SECTIONS)),
    help="Measure only these sections (repeatable); the default is all of them.",
)
@click.option(
    "--output",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Where to write report.md, ratios.png and results.json "
    "[default: bench/results, or bench/results/quick with --quick].",
)
def main(quick: bool, only: tuple[str, ...], output: Path | None) -> None:
    """Measure teabox against native code, the bare engine and other runtimes; write a report."""
    mode = Mode(quick=quick)
    output = output or (RESULTS_DIR / "quick" if quick else RESULTS_DIR)
    names = [name for name in SECTIONS if not only or name in only]
    load_at_start = machine.load_average()
    started = time.perf_counter()
    sections = run_sections(names, mode, console_log())
    seconds = time.perf_counter() - started
    command = "python bench/run.py" + (" --quick" if quick else "") + "".join(f" --only {n}" for n in only)
    env = machine.describe() | {"load_average_at_start": load_at_start}
    path = report.write(output, sections, env, mode, seconds, command)
    click.echo(targets_table([t for s in sections for t in s.targets]))
    click.echo(f"\nreport: {path}\nchart:  {path.parent / report.CHART}\n({seconds:.0f} s)")


if __name__ == "__main__":
    main()
