"""Engines, one per code-generation setting, and the clock that ends runs on time.

Epoch checks, fuel metering and the stack limit change how wasmtime compiles
or runs a module, so each combination gets its own engine (and its own cache
entries). Every engine canonicalises NaNs and runs relaxed SIMD
deterministically, so a payload's output is bit-identical on every run,
machine and isolation mode: the platform may re-encrypt a retried output under
the same key and IV only because of that. When the wall-clock limit is enforced in the engine, a background
thread advances every engine's epoch each tick and a run's store traps once
its deadline in ticks has passed, whatever the payload does. Epoch checks sit
at every loop head and call, so a payload run in a sandbox process that is
killed at its deadline uses an engine without them.
"""

from __future__ import annotations

import math
import os
import threading
import time
from dataclasses import dataclass

import wasmtime

from teabox.executor.memory import use_budgeted_memories
from teabox.executor.wasmtime_private import WASMTIME_VERSION

TICK_SECONDS = 0.01
# NaN canonicalisation and deterministic relaxed SIMD: the same bits out for the same bits in.
DETERMINISTIC = True


@dataclass(frozen=True)
class EngineSpec:
    epoch: bool
    fuel: bool
    stack: int

    @property
    def fingerprint(self) -> str:
        """Everything that makes a compiled artifact valid for an engine."""
        return (
            f"wasmtime={WASMTIME_VERSION};epoch={int(self.epoch)};fuel={int(self.fuel)};stack={self.stack};opt=speed;"
            f"nan_canonical={int(DETERMINISTIC)};relaxed_simd_deterministic={int(DETERMINISTIC)}"
        )


def _configure(spec: EngineSpec) -> wasmtime.Config:
    config = wasmtime.Config()
    config.epoch_interruption = spec.epoch
    config.consume_fuel = spec.fuel
    config.max_wasm_stack = spec.stack
    config.cranelift_opt_level = "speed"
    config.parallel_compilation = True
    config.cranelift_nan_canonicalization = DETERMINISTIC
    config.wasm_relaxed_simd_deterministic = DETERMINISTIC
    use_budgeted_memories(config)
    return config


class _Clock:
    """Advances the epoch of every engine each tick, from a daemon thread."""

    def __init__(self) -> None:
        self._engines: list[wasmtime.Engine] = []
        self._lock = threading.Lock()
        self._pid = -1

    def watch(self, engine: wasmtime.Engine) -> None:
        with self._lock:
            self._engines.append(engine)
            self.ensure_thread()

    def ensure_thread(self) -> None:
        # A forked child inherits the list but not the thread.
        if self._pid != os.getpid():
            self._pid = os.getpid()
            threading.Thread(target=self._tick, name="teabox-epoch-clock", daemon=True).start()

    def _tick(self) -> None:
        while True:
            time.sleep(TICK_SECONDS)
            for engine in self._engines:
                engine.increment_epoch()


_clock = _Clock()
_engines: dict[EngineSpec, wasmtime.Engine] = {}
_engines_lock = threading.Lock()


def engine_for(spec: EngineSpec) -> wasmtime.Engine:
    with _engines_lock:
        engine = _engines.get(spec)
        if engine is None:
            engine = _engines[spec] = wasmtime.Engine(_configure(spec))
            if spec.epoch:
                _clock.watch(engine)
        elif spec.epoch:
            _clock.ensure_thread()
        return engine


def deadline_ticks(timeout: float) -> int:
    """Ticks to allow so that a run ends no earlier than ``timeout`` and at most one tick later."""
    return math.ceil(timeout / TICK_SECONDS) + 1
