"""Ways to run one compute kernel: natively, and its payload under each wasm engine.

Every engine answers the same question: run kernel K at size n once, return
its checksum and how long the run took. The checksum is compared with the
native build's, so an engine that computes something else cannot look fast.
"""

from __future__ import annotations

import io
import re
import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import wasmtime

from bench import build
from bench.workloads import Kernel
from teabox.abi.argv import argv_strings, layout_argv
from teabox.executor import Executor, Limits
from teabox.platform.staged import TaskLimits
from teabox.worker.run_task import executor_limits

PAGE = 65536
MiB = 1024 * 1024
# The limits a platform task runs with by default (256 MiB of linear memory and
# of output, 1 MiB of wasm stack, no fuel metering), as a worker hands them to
# the executor. The timeout's value changes nothing in the compiled code, so it
# is generous here: a loaded machine must not turn a slow repetition into a
# failed one.
PRODUCTION_LIMITS = executor_limits(TaskLimits(timeout_seconds=60.0))
FUEL_LIMITS = executor_limits(TaskLimits(timeout_seconds=60.0, fuel=10**13))


class EngineFailed(RuntimeError):
    """An engine could not run a kernel (a trap, a limit, a crash); never a timing."""


@dataclass(frozen=True)
class Run:
    checksum: int  # the kernel's return value as an unsigned 32-bit number
    seconds: float  # the figure compared across engines
    outer_seconds: float | None = None  # measured around the whole call, where that differs


class ComputeEngine(Protocol):
    name: str
    label: str
    tier: str  # "main" (the run's size), "quick" or "tiny" (interpreters)
    note: str

    def unavailable(self) -> str | None:
        """Why this engine cannot run here, or None."""
        ...

    def run(self, kernel: Kernel, n: int) -> Run: ...


class Native:
    """gcc -O2, timed inside the process around the kernel call, after one warm-up call."""

    name, label, tier = "native", "native gcc -O2", "main"
    note = "in-process clock around run_kernel(), second of two calls in a fresh process"

    def unavailable(self) -> str | None:
        return None if shutil.which("gcc") else "gcc is not on the PATH"

    def run(self, kernel: Kernel, n: int) -> Run:
        binary = build.native_binary(kernel.source)
        done = subprocess.run([str(binary), str(n), "2"], capture_output=True, text=True, check=False)
        lines = done.stdout.split()
        if done.returncode != 0 or len(lines) != 4:
            raise EngineFailed(f"{binary.name} {n} exited {done.returncode}: {done.stderr.strip()}")
        return Run(int(lines[2]), float(lines[3]))


class WasmtimeAlone:
    """The engine teabox uses, with nothing of teabox: default config, no limits, no host functions.

    With ``epoch=True`` it is the same plus epoch interruption, the mechanism
    teabox's wall-clock limit uses, to show what that mechanism alone costs.
    """

    tier = "main"

    def __init__(self, *, epoch: bool = False) -> None:
        config = wasmtime.Config()
        config.epoch_interruption = epoch
        self.engine = wasmtime.Engine(config)
        self.epoch = epoch
        self.name = "wasmtime_epoch" if epoch else "wasmtime"
        self.label = "wasmtime + epoch checks" if epoch else "wasmtime alone"
        self.note = (
            "as wasmtime alone, plus `Config.epoch_interruption` with a deadline never reached: the cost of the "
            "mechanism behind teabox's timeout, without teabox"
            if epoch
            else "wasmtime.Engine() defaults; new Store and Instance, argv written, entrypoint called"
        )
        self._modules: dict[str, wasmtime.Module] = {}

    def unavailable(self) -> str | None:
        return None

    def module(self, kernel: Kernel) -> wasmtime.Module:
        if kernel.name not in self._modules:
            self._modules[kernel.name] = wasmtime.Module(self.engine, build.payload(kernel.source))
        return self._modules[kernel.name]

    def run(self, kernel: Kernel, n: int) -> Run:
        module = self.module(kernel)
        start = time.perf_counter()
        store = wasmtime.Store(self.engine)
        if self.epoch:
            store.set_epoch_deadline(2**62)
        exports = wasmtime.Instance(store, module, []).exports(store)
        memory = exports["memory"]
        assert isinstance(memory, wasmtime.Memory)
        base = memory.data_len(store)  # argv goes above everything the module owns, as teabox places it
        block = layout_argv(argv_strings({"n": n}), base)
        memory.grow(store, -(-len(block.data) // PAGE))
        memory.write(store, block.data, base)
        value = exports["entrypoint"](store, block.argc, block.argv_address)  # type: ignore[operator]
        return Run(value & 0xFFFFFFFF, time.perf_counter() - start)


class Teabox:
    """``Executor.run`` with production limits; the figure is RunResult.wall_time."""

    tier = "main"

    def __init__(self, executor: Executor, limits: Limits, name: str, label: str) -> None:
        self.executor, self.limits, self.name, self.label = executor, limits, name, label
        fuel = "fuel metering on" if limits.fuel is not None else "no fuel metering"
        deadline = (
            "in a sandbox process killed at the deadline, no epoch checks (what workers and `teabox run` use)"
            if executor.isolation == "subprocess"
            else "on the calling thread, deadline by epoch interruption"
        )
        self.note = (
            f'`Executor(isolation="{executor.isolation}").run`, {deadline}; a platform task\'s default limits '
            f"(memory {limits.memory // MiB} MiB, stack {limits.stack // MiB} MiB, output "
            f"{limits.max_output_bytes // MiB} MiB, {fuel}) with a {limits.timeout:g} s timeout"
        )

    def unavailable(self) -> str | None:
        return None

    def run(self, kernel: Kernel, n: int) -> Run:
        payload = build.payload(kernel.source)
        start = time.perf_counter()
        result = self.executor.run(payload, {"n": n}, limits=self.limits)
        outer = time.perf_counter() - start
        if result.failure is not None:
            raise EngineFailed(
                f"{kernel.name} n={n} failed under teabox: {result.failure.kind}: {result.failure.message}"
            )
        return Run(int(result.return_value or 0) & 0xFFFFFFFF, result.wall_time, outer)


class Wasm3:
    """The wasm3 interpreter through pywasm3: bench_run(n) on a fresh runtime."""

    name, label, tier = "wasm3", "pywasm3 (wasm3 interpreter)", "quick"
    note = "payload built with `--no-simd` (wasm3 has no SIMD); fresh runtime per run, clock around bench_run(n)"

    def unavailable(self) -> str | None:
        try:
            import wasm3  # noqa: F401
        except ImportError as exc:
            return f"pywasm3 is not installed ({exc}); pip install -e '.[bench]'"
        return None

    def run(self, kernel: Kernel, n: int) -> Run:
        import wasm3

        env = wasm3.Environment()
        runtime = env.new_runtime(MiB)
        runtime.load(env.parse_module(build.payload(kernel.source, simd=False)))
        function = runtime.find_function("bench_run")
        start = time.perf_counter()
        value = function(n)
        return Run(value & 0xFFFFFFFF, time.perf_counter() - start)


class Pywasm:
    """The pure-Python interpreter pywasm: only at tiny sizes."""

    name, label, tier = "pywasm", "pywasm (pure Python)", "tiny"
    note = "payload built with `--no-simd`; clock around Runtime.invocate of bench_run(n); tiny sizes only"

    def unavailable(self) -> str | None:
        try:
            import pywasm  # noqa: F401
        except ImportError as exc:
            return f"pywasm is not installed ({exc}); pip install -e '.[bench]'"
        return None

    def run(self, kernel: Kernel, n: int) -> Run:
        import pywasm

        runtime = pywasm.core.Runtime()
        instance = runtime.instance(
            pywasm.core.ModuleDesc.from_reader(io.BytesIO(build.payload(kernel.source, simd=False)))
        )
        start = time.perf_counter()
        (value,) = runtime.invocate(instance, "bench_run", [n])
        return Run(value & 0xFFFFFFFF, time.perf_counter() - start)


class Iwasm:
    """WAMR's ``iwasm`` in interpreter mode, Teaclave's engine, when it is on the PATH."""

    name, label, tier = "iwasm", "WAMR iwasm (interpreter)", "quick"
    note = "payload built with `--no-simd`; iwasm --interp -f bench_run; clock around the process (load included)"
    _RESULT = re.compile(r"0x([0-9a-fA-F]+):i32")

    def unavailable(self) -> str | None:
        return None if shutil.which("iwasm") else "iwasm (WAMR) is not on the PATH"

    def __init__(self) -> None:
        # Builds with several running modes choose the interpreter with --interp; an
        # interpreter-only build has no such option, and is run without it.
        self._mode = ["--interp"]

    def _invoke(self, path: Path, n: int) -> tuple[subprocess.CompletedProcess[str], float]:
        start = time.perf_counter()
        done = subprocess.run(
            ["iwasm", *self._mode, "-f", "bench_run", str(path), str(n)], capture_output=True, text=True, check=False
        )
        return done, time.perf_counter() - start

    def run(self, kernel: Kernel, n: int) -> Run:
        path = build.BUILD_DIR / "wasm" / f"{kernel.name}.iwasm.wasm"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(build.payload(kernel.source, simd=False))
        done, elapsed = self._invoke(path, n)
        if done.returncode != 0 and self._mode:
            self._mode = []
            done, elapsed = self._invoke(path, n)
        match = self._RESULT.search(done.stdout)
        if done.returncode != 0 or match is None:
            raise EngineFailed(f"iwasm exited {done.returncode}: {(done.stderr or done.stdout).strip()[:500]}")
        return Run(int(match.group(1), 16) & 0xFFFFFFFF, elapsed)


def all_engines(cache_dir: Path) -> list[ComputeEngine]:
    production = Executor(cache_dir, isolation="subprocess")
    in_process = Executor(cache_dir)
    return [
        Native(),
        WasmtimeAlone(),
        WasmtimeAlone(epoch=True),
        Teabox(production, PRODUCTION_LIMITS, "teabox", "teabox (limits on)"),
        Teabox(in_process, PRODUCTION_LIMITS, "teabox_inprocess", "teabox in-process (epoch deadline)"),
        Teabox(production, FUEL_LIMITS, "teabox_fuel", "teabox (limits + fuel)"),
        Wasm3(),
        Pywasm(),
        Iwasm(),
    ]
