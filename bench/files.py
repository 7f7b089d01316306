"""Encrypted files: MB/s of encrypt, decrypt and verify for every format teabox writes.

Each figure is plaintext bytes per second (MB = 10^6 bytes), the median over
repetitions, for a file on the local disk (in the page cache, so this is the
codecs' throughput, not the disk's). Formats and operations are interleaved
within each repetition so that noise from elsewhere on the machine hits all
of them alike.

``python bench/files.py [--quick]`` prints the table alone; the suite calls
:func:`measure`, and anything else can call :func:`run`.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

if __name__ == "__main__" and not __package__:
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import click

from bench.section import Log, Mode, Section, Target
from bench.stats import summarize
from teabox.formats import AES_GCM_128, AES_GCM_256, RAW, TEACLAVE_FILE_128, CryptoInfo, decrypt, encrypt, verify

TITLE = "Encrypted files"
FORMATS = [AES_GCM_128, AES_GCM_256, TEACLAVE_FILE_128]
OPS = ["encrypt", "decrypt", "verify"]
MIB = 2**20
# Issue targets, MB/s on every operation at the largest size.
TARGETS = {AES_GCM_128: 500.0, AES_GCM_256: 500.0, TEACLAVE_FILE_128: 200.0}


def _plan(quick: bool) -> list[tuple[int, int]]:
    """(size, repetitions): the issue's 1 MiB and 256 MiB, or a smoke run's smaller pair."""
    return [(MIB, 5), (16 * MIB, 2)] if quick else [(MIB, 30), (256 * MIB, 5)]


def _operation(op: str, info: CryptoInfo, plain: Path, encrypted: Path, out: Path) -> Callable[[], object]:
    if op == "encrypt":
        return lambda: encrypt(info, plain, out, name=encrypted.name)
    if op == "decrypt":
        return lambda: decrypt(info, encrypted, out)
    return lambda: verify(info, encrypted)


def _measure_size(size: int, reps: int, work: Path, log: Log) -> list[dict[str, Any]]:
    plain = work / "plain.bin"
    with open(plain, "wb") as f:
        for _ in range(0, size, MIB):
            f.write(os.urandom(min(MIB, size)))
    # Baseline: the same staged file-to-file copy with no cryptography, i.e. what the disk allows.
    cases = [(RAW, "copy", _operation("decrypt", CryptoInfo(RAW, b""), plain, plain, work / "out.bin"))]
    for schema in FORMATS:
        info = CryptoInfo.random(schema)
        encrypted = work / f"{schema}.enc"
        encrypt(info, plain, encrypted)
        cases += [(schema, op, _operation(op, info, plain, encrypted, work / "out.bin")) for op in OPS]
    seconds: dict[tuple[str, str], list[float]] = {(s, o): [] for s, o, _ in cases}
    for rep in range(-1, reps):  # repetition -1 warms up and is not recorded
        # Rotate the order so that a slow moment of the machine does not always hit the same case.
        shift = max(rep, 0) % len(cases)
        for schema, op, call in cases[shift:] + cases[:shift]:
            started = time.perf_counter()
            call()
            elapsed = time.perf_counter() - started
            if rep >= 0:
                seconds[(schema, op)].append(elapsed)
            (work / "out.bin").unlink(missing_ok=True)
        if size >= 16 * MIB and rep >= 0:
            log(f"files: {size // MIB} MiB, repetition {rep + 1}/{reps}")
    for path in work.iterdir():
        path.unlink()
    rows = []
    for (schema, op), times in seconds.items():
        rates = summarize([size / t / 1e6 for t in times])
        rows.append(
            {"format": schema, "op": op, "size": size, "mb_per_s": rates.median, "spread": rates.spread, "reps": reps}
        )
    return rows


def run(quick: bool, log: Log = lambda message: None) -> list[dict[str, Any]]:
    """One row per (format, op, size): median MB/s and the relative interquartile spread.

    Besides the three formats, format ``raw`` with op ``copy`` is the same-run
    baseline: a staged copy with no cryptography, bounded only by the file system.
    """
    rows: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="teabox-bench-files-") as tmp:
        for size, reps in _plan(quick):
            rows += _measure_size(size, reps, Path(tmp), log)
    return rows


def table(rows: list[dict[str, Any]]) -> str:
    """The rows as a Markdown table, one line per format and operation, one column per size."""
    sizes = sorted({r["size"] for r in rows})
    lines = [
        "| format | operation | " + " | ".join(f"{s // MIB} MiB" for s in sizes) + " |",
        "|---|---|" + "---:|" * len(sizes),
    ]
    cell = {(r["format"], r["op"], r["size"]): r for r in rows}
    for schema, op in [(RAW, "copy")] + [(schema, op) for schema in FORMATS for op in OPS]:
        figures = []
        for s in sizes:
            r = cell[(schema, op, s)]
            figures.append(f"{r['mb_per_s']:,.0f} MB/s (±{r['spread'] * 50:.0f}%)")
        label = "plain copy (baseline)" if schema == RAW else f"`{schema}`"
        lines.append(f"| {label} | {op} | " + " | ".join(figures) + " |")
    return "\n".join(lines)


def targets(rows: list[dict[str, Any]]) -> list[Target]:
    largest = max(r["size"] for r in rows)
    found = []
    for schema, limit in TARGETS.items():
        at_size = [r for r in rows if r["format"] == schema and r["size"] == largest]
        slowest = min(at_size, key=lambda r: r["mb_per_s"])
        found.append(
            Target(
                f"{schema} throughput ({largest // MIB} MiB, slowest operation)",
                limit,
                ">=",
                "MB/s",
                slowest["mb_per_s"],
                note=f"slowest: {slowest['op']}",
            )
        )
    return found


def measure(mode: Mode, log: Log, cache_dir: Path) -> Section:
    """The suite's entry point (``cache_dir`` is unused: no payloads are compiled here)."""
    rows = run(mode.quick, log)
    markdown = (
        "Plaintext MB/s (10^6 bytes) of `teabox.formats` on files in the page cache: median of the "
        "repetitions, ± half the interquartile range. Decrypt writes to a staging file and renames it "
        "into place after every check; verify writes nothing. The plain copy is the same staged "
        "file-to-file copy without cryptography: what the file system allows in this run.\n\n" + table(rows) + "\n"
    )
    return Section(TITLE, markdown, {"rows": rows}, targets=targets(rows))


@click.command()
@click.option("--quick", is_flag=True, help="Smoke run: 1 MiB and 16 MiB, few repetitions.")
def main(quick: bool) -> None:
    """Print the encrypted-file throughput table."""
    rows = run(quick, lambda message: click.echo(message, err=True))
    click.echo(table(rows))
    for t in targets(rows):
        verdict = "met" if t.met else "NOT met"
        click.echo(f"{t.name}: {t.measured:,.0f} {t.unit} (target {t.direction} {t.limit:.0f}) {verdict}")


if __name__ == "__main__":
    main()
