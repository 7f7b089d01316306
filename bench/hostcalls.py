"""Host calls: what one teaclave_read_file/teaclave_write_file costs, and file throughput through the API.

The payload (bench/payloads/file_io.c) reads an input to its end, or writes
an output, in chunks of a given size. One call's cost is the difference
between a run making N one-byte calls and a run making (almost) none, over N;
the baseline is the same Python file call the host function makes, without
the payload around it.

``python bench/hostcalls.py [--quick]`` prints µs per call alone.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

if __name__ == "__main__" and not __package__:
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import wasmtime

from bench import build
from bench.section import Log, Mode, Ratio, Section, Target
from bench.stats import Summary, summarize
from teabox.abi.argv import argv_strings, layout_argv
from teabox.executor import Executor, FileInputs, FileOutputs, Limits

TITLE = "Host calls and file throughput"
PAYLOAD_SOURCE = Path(__file__).resolve().parent / "payloads" / "file_io.c"
KiB, MiB = 1024, 1024 * 1024
PAGE = 65536
LIMITS = Limits(timeout=60.0)


def file_io_payload() -> bytes:
    return build.payload(PAYLOAD_SOURCE)


class FileRuns:
    """Runs the file_io payload against files in one scratch directory."""

    def __init__(self, executor: Executor, workdir: Path) -> None:
        self.executor, self.workdir = executor, workdir
        self.payload = file_io_payload()

    def input_of(self, size: int) -> Path:
        path = self.workdir / f"input-{size}"
        if not path.exists():
            path.write_bytes(os.urandom(min(size, MiB)) * (size // MiB) + os.urandom(size % MiB))
        return path

    def _run(self, args: dict[str, object], inputs: FileInputs, outputs: FileOutputs, expected: int) -> Timed:
        cpu = time.thread_time()
        result = self.executor.run(self.payload, args, inputs=inputs, outputs=outputs, limits=LIMITS)
        cpu = time.thread_time() - cpu
        if result.return_value != str(expected):
            raise RuntimeError(f"file_io {args} returned {result.return_value} (expected {expected}): {result.failure}")
        return Timed(result.wall_time, cpu)

    def read(self, file_size: int, chunk: int) -> Timed:
        """Time to read a ``file_size``-byte input to its end in ``chunk``-byte calls."""
        inputs = FileInputs({"input": self.input_of(file_size)})
        args = {"mode": "read", "size": chunk, "count": 0}
        return self._run(args, inputs, FileOutputs(), file_size)

    def write(self, total: int, chunk: int) -> Timed:
        """Time to write ``total`` bytes in ``chunk``-byte calls to a new output file."""
        output = self.workdir / "output"
        args = {"mode": "write", "size": chunk, "count": total // chunk}
        timed = self._run(args, FileInputs(), FileOutputs({"output": output}), total)
        output.unlink()
        return timed


@dataclass(frozen=True)
class Timed:
    """A run's wall-clock seconds, and the CPU seconds of the thread that ran it.

    On a shared machine the wall clock also counts time spent descheduled;
    the thread's CPU time does not, so the two together tell teabox's cost
    from the machine's load.
    """

    wall: float
    cpu: float


@dataclass(frozen=True)
class PerCall:
    wall: Summary
    cpu: Summary


def per_call(measure: Callable[[int], Timed], calls: int, repetitions: int) -> PerCall:
    """Seconds per call: (a run making ``calls`` calls - a run making none) / calls, paired."""
    measure(calls)  # warm-up: compiles the payload, fills the page cache
    wall, cpu = [], []
    for _ in range(repetitions):
        empty = measure(0)
        full = measure(calls)
        wall.append((full.wall - empty.wall) / calls)
        cpu.append((full.cpu - empty.cpu) / calls)
    return PerCall(summarize(wall), summarize(cpu))


def teabox_one_byte_calls(runs: FileRuns, op: str) -> Callable[[int], Timed]:
    return (lambda calls: runs.read(calls, 1)) if op == "read" else (lambda calls: runs.write(calls, 1))


class BareEngineCalls:
    """The same payload under wasmtime alone, its imports bound to Python functions that do nothing.

    This is the floor for a host call written with wasmtime's standard Python
    bindings: the wasm -> Python -> wasm transition and nothing else.
    """

    def __init__(self, payload: bytes) -> None:
        self.engine = wasmtime.Engine()
        self.module = wasmtime.Module(self.engine, payload)
        self.linker = wasmtime.Linker(self.engine)
        self.left = 0
        i32 = wasmtime.ValType.i32()
        unary, ternary = wasmtime.FuncType([i32], [i32]), wasmtime.FuncType([i32] * 3, [i32])
        self.linker.define_func("env", "teaclave_open_input", unary, lambda fid: 1)
        self.linker.define_func("env", "teaclave_create_output", unary, lambda fid: 0x40000002)
        self.linker.define_func("env", "teaclave_read_file", ternary, self._read)
        self.linker.define_func("env", "teaclave_write_file", ternary, lambda fd, buf, size: size)
        self.linker.define_func("env", "teaclave_close_file", unary, lambda fd: 0)

    def _read(self, fd: int, buf: int, size: int) -> int:
        if self.left <= 0:
            return 0
        self.left -= 1
        return 1

    def one_byte_calls(self, op: str) -> Callable[[int], Timed]:
        def run(calls: int) -> Timed:
            self.left = calls
            store = wasmtime.Store(self.engine)
            exports = self.linker.instantiate(store, self.module).exports(store)
            memory = exports["memory"]
            assert isinstance(memory, wasmtime.Memory)
            base = memory.data_len(store)
            block = layout_argv(argv_strings({"mode": op, "size": 1, "count": calls}), base)
            memory.grow(store, -(-len(block.data) // PAGE))
            memory.write(store, block.data, base)
            start, cpu = time.perf_counter(), time.thread_time()
            value = exports["entrypoint"](store, block.argc, block.argv_address)  # type: ignore[operator]
            timed = Timed(time.perf_counter() - start, time.thread_time() - cpu)
            if value != calls:
                raise RuntimeError(f"file_io {op} under wasmtime alone returned {value}, expected {calls}")
            return timed

        return run


def python_per_call(path: Path, op: str, calls: int) -> float:
    """The call the host function makes, alone: ``readinto``/``write`` of one byte on a buffered file."""
    view = memoryview(bytearray(1))
    with open(path, "rb") if op == "read" else open(path.with_suffix(".py-out"), "wb") as stream:
        call = stream.readinto if op == "read" else stream.write  # type: ignore[union-attr]
        start = time.perf_counter()
        for _ in range(calls):
            call(view)
        elapsed = time.perf_counter() - start
    path.with_suffix(".py-out").unlink(missing_ok=True)
    return elapsed / calls


def python_read(path: Path, chunk: int) -> float:
    """Seconds for plain Python to read the same file with the same chunk size: the throughput baseline."""
    view = memoryview(bytearray(chunk))
    start = time.perf_counter()
    with open(path, "rb") as stream:
        while stream.readinto(view):
            pass
    return time.perf_counter() - start


def python_write(path: Path, total: int, chunk: int) -> float:
    data = bytes(chunk)
    start = time.perf_counter()
    with open(path, "wb") as stream:
        stream.writelines(data for _ in range(total // chunk))
    elapsed = time.perf_counter() - start
    path.unlink()
    return elapsed


def measure(mode: Mode, log: Log, cache_dir: Path) -> Section:
    calls = mode.reps(full=300_000, quick=50_000)
    reps = mode.reps(full=7, quick=3)
    volume = mode.reps(full=256, quick=32) * MiB
    with tempfile.TemporaryDirectory(prefix="teabox-bench-files-") as scratch:
        workdir = Path(scratch)
        runs = FileRuns(Executor(cache_dir), workdir)
        calls_table = {}
        bare = BareEngineCalls(runs.payload)
        for op in ("read", "write"):
            log(f"host calls: {op} one byte, {calls:,} calls x {reps}")
            teabox = per_call(teabox_one_byte_calls(runs, op), calls, reps)
            floor = per_call(bare.one_byte_calls(op), calls, reps)
            baseline = summarize([python_per_call(runs.input_of(calls), op, calls) for _ in range(reps)])
            calls_table[op] = (teabox, floor, baseline)
        throughput = {}
        for chunk in (4 * KiB, 64 * KiB):
            log(f"host calls: {volume // MiB} MiB through the API in {chunk // KiB} KiB chunks x {reps}")
            path = runs.input_of(volume)
            runs.read(volume, chunk)  # warm-up
            read_t, read_py, write_t, write_py = [], [], [], []
            for _ in range(reps):
                read_t.append(runs.read(volume, chunk).wall)
                read_py.append(python_read(path, chunk))
                write_t.append(runs.write(volume, chunk).wall)
                write_py.append(python_write(workdir / "py-output", volume, chunk))
            throughput[chunk] = {
                name: summarize([volume / t / 1e6 for t in times])
                for name, times in (
                    ("read", read_t),
                    ("python read", read_py),
                    ("write", write_t),
                    ("python write", write_py),
                )
            }
    return _section(calls_table, throughput, calls, volume)


def _section(
    calls_table: dict[str, tuple[PerCall, PerCall, Summary]],
    throughput: dict[int, dict[str, Summary]],
    calls: int,
    volume: int,
) -> Section:
    lines = [
        (
            f"One call: a run making {calls:,} one-byte calls minus a run making none, divided by {calls:,} "
            "(so the run's fixed cost cancels out); median of paired repetitions. Baselines: the same payload "
            "under wasmtime alone with each import bound, through wasmtime's standard Python bindings, to a Python "
            "function that does nothing (the floor for a host call written the usual way); and the "
            "`readinto`/`write` on a buffered Python file that teabox's host function performs, called from Python. "
            "Wall-clock time per call, and the CPU time per call of the thread that ran the payload (which leaves "
            "out time the machine's other load kept it off a core)."
        ),
        "",
        (
            "| call | teabox, per call (wall) | min – max | teabox, CPU time per call | wasmtime alone, do-nothing "
            "Python import | ratio | Python file call alone |"
        ),
        "|---|---|---|---|---|---|---|",
    ]
    ratios = []
    for op, (teabox, floor, baseline) in calls_table.items():
        ratio = teabox.wall.median / floor.wall.median
        lines.append(
            f"| `teaclave_{op}_file`, 1 byte | {teabox.wall.median * 1e6:.2f} µs | {teabox.wall.minimum * 1e6:.2f} – "
            f"{teabox.wall.maximum * 1e6:.2f} µs | {teabox.cpu.median * 1e6:.2f} µs | {floor.wall.median * 1e6:.2f} µs "
            f"| ×{ratio:.2f} | {baseline.median * 1e6:.3f} µs |"
        )
        ratios.append(Ratio("teabox host call / do-nothing import, wasmtime alone", f"{op} call", ratio))
    lines += [
        "",
        (
            f"Throughput: {volume // MiB} MiB read from an input file (in the page cache) or written to an output "
            "file, through the file API, in MB/s (10^6 bytes) of the whole run; baseline: plain Python reading or "
            "writing the same file in the same chunk size."
        ),
        "",
        "| chunk | read via API | Python read | ratio | write via API | Python write | ratio |",
        "|---|---|---|---|---|---|---|",
    ]
    for chunk, figures in throughput.items():
        r_ratio = figures["read"].median / figures["python read"].median
        w_ratio = figures["write"].median / figures["python write"].median
        lines.append(
            f"| {chunk // KiB} KiB | {figures['read'].median:,.0f} MB/s | {figures['python read'].median:,.0f} MB/s "
            f"| ×{r_ratio:.2f} | {figures['write'].median:,.0f} MB/s | {figures['python write'].median:,.0f} MB/s "
            f"| ×{w_ratio:.2f} |"
        )
        ratios += [
            Ratio("API throughput / Python file I/O", f"read {chunk // KiB} KiB", r_ratio),
            Ratio("API throughput / Python file I/O", f"write {chunk // KiB} KiB", w_ratio),
        ]
    worst_call = max(teabox.wall.median for teabox, _, _ in calls_table.values())
    targets = [
        Target("one file API host call", 3.0, "<=", "µs", worst_call * 1e6, "the slower of read and write"),
        Target(
            "file read through the API, 64 KiB buffers", 1.0, ">=", "GB/s", throughput[64 * KiB]["read"].median / 1000
        ),
    ]
    data = {
        "calls": calls,
        "bytes": volume,
        "per_call_seconds": {
            op: {
                "teabox_wall": t.wall.to_dict(),
                "teabox_cpu": t.cpu.to_dict(),
                "wasmtime_alone_noop_wall": f.wall.to_dict(),
                "python": b.to_dict(),
            }
            for op, (t, f, b) in calls_table.items()
        },
        "throughput_mb_s": {
            str(chunk): {k: v.to_dict() for k, v in figures.items()} for chunk, figures in throughput.items()
        },
    }
    return Section(TITLE, "\n".join(lines) + "\n", data, targets, ratios)


def main() -> None:
    quick = "--quick" in sys.argv[1:]
    calls = 50_000 if quick else 300_000
    with tempfile.TemporaryDirectory(prefix="teabox-bench-") as scratch:
        runs = FileRuns(Executor(Path(scratch) / "cache"), Path(scratch))
        for op in ("read", "write"):
            s = per_call(teabox_one_byte_calls(runs, op), calls, 3 if quick else 7)
            print(
                f"teaclave_{op}_file, 1 byte: {s.wall.median * 1e6:.2f} µs per call "
                f"(min {s.wall.minimum * 1e6:.2f}, max {s.wall.maximum * 1e6:.2f}; "
                f"CPU time {s.cpu.median * 1e6:.2f} µs)"
            )


if __name__ == "__main__":
    main()
