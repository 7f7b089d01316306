"""Runs payloads in sandbox processes that are killed at their deadline.

Epoch interruption puts a check at every loop head and call, which costs
compute-heavy payloads a large share of their speed. Enforcing the wall-clock
limit from outside costs nothing while the payload runs: each run goes to a
child process whose engine has no epoch checks, and a child that has not
answered by the deadline is killed (and replaced on demand). A crash of the
engine takes only the child with it.

Inputs and outputs cross the process boundary by pickling, so they must be
file-based (:class:`FileInputs`, :class:`FileOutputs`) or the in-memory
classes, whose results are copied back.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import threading
import time
import weakref
from collections import OrderedDict
from collections.abc import Hashable, Mapping
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from teabox.abi.argv import argv_strings
from teabox.abi.check import DEFAULT_MAX_PAYLOAD_BYTES
from teabox.executor.data import Inputs, MemoryOutputs, Outputs
from teabox.executor.limits import Limits
from teabox.executor.result import Failure, FailureKind, RunResult

# Time a child may take to compile a module before the run's clock starts.
COMPILE_SECONDS = 300.0
# Slack for the child's own work after the deadline check (instantiation, result message).
GRACE_SECONDS = 0.05
# Payloads a sandbox process keeps in memory.
_KEEP_PAYLOADS = 64
# How many of a sandbox process's most recently used modules its parent counts as compiled there:
# fewer than the process's module cache keeps in memory, so every one of them surely is.
_SURELY_COMPILED = 32


class PayloadLRU:
    """The payloads a sandbox process keeps, most recently used last.

    The parent keeps an identical one per child and applies the same uses in
    the same order, so it knows without asking whether to send the bytes.
    """

    def __init__(self, capacity: int = _KEEP_PAYLOADS) -> None:
        self.capacity = capacity
        self.entries: OrderedDict[str, bytes] = OrderedDict()

    def hold(self, sha256: str, payload: bytes | None) -> bool:
        """Record a use; return whether the payload was already held (else store ``payload``)."""
        held = sha256 in self.entries
        if held:
            self.entries.move_to_end(sha256)
        else:
            assert payload is not None, "a payload the sandbox does not hold must be sent"
            self.entries[sha256] = payload
            while len(self.entries) > self.capacity:
                self.entries.popitem(last=False)
        return held


class RecentKeys:
    """The most recently used keys, at most ``capacity`` of them."""

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self._keys: OrderedDict[Hashable, None] = OrderedDict()

    def __contains__(self, key: Hashable) -> bool:
        return key in self._keys

    def use(self, key: Hashable) -> None:
        self._keys[key] = None
        self._keys.move_to_end(key)
        while len(self._keys) > self.capacity:
            self._keys.popitem(last=False)


class _Child:
    """One sandbox process and the two pipe ends that talk to it."""

    def __init__(self, cache_dir: Path | None, max_payload_bytes: int) -> None:
        to_child_r, to_child_w = os.pipe()
        from_child_r, from_child_w = os.pipe()
        command = [
            sys.executable,
            "-m",
            "teabox.executor.sandbox_child",
            str(to_child_r),
            str(from_child_w),
            str(max_payload_bytes),
        ]
        if cache_dir is not None:
            command.append(str(cache_dir))
        self.process = subprocess.Popen(
            command, pass_fds=(to_child_r, from_child_w), stdin=subprocess.DEVNULL, close_fds=True
        )
        os.close(to_child_r)
        os.close(from_child_w)
        self.send = Connection(to_child_w, readable=False)
        self.receive = Connection(from_child_r, writable=False)
        # The payloads this child holds, kept in step with the child's own LRU.
        self.payloads: PayloadLRU = PayloadLRU()
        # Modules this child has compiled and still holds, by (sha256, fuel metering, stack limit):
        # their runs need no "started" message, since no compilation can come before the payload.
        self.compiled = RecentKeys(_SURELY_COMPILED)

    def kill(self) -> None:
        self.process.kill()
        self.process.wait()
        self.send.close()
        self.receive.close()

    def exit_description(self) -> str:
        code = self.process.wait()
        return f"killed by signal {-code}" if code < 0 else f"exited with status {code}"


class SandboxRunner:
    """A pool of sandbox processes; one run at a time per process, as many processes as concurrent runs."""

    def __init__(self, cache_dir: Path | None = None, *, max_payload_bytes: int = DEFAULT_MAX_PAYLOAD_BYTES) -> None:
        self.cache_dir = cache_dir
        self.max_payload_bytes = max_payload_bytes
        self._idle: list[_Child] = []
        self._lock = threading.Lock()
        self._finalizer = weakref.finalize(self, SandboxRunner._kill_all, self._idle)

    @staticmethod
    def _kill_all(children: list[_Child]) -> None:
        while children:
            children.pop().kill()

    def close(self) -> None:
        """Stop the idle sandbox processes (they also die with this process)."""
        with self._lock:
            self._kill_all(self._idle)

    def _acquire(self) -> _Child:
        with self._lock:
            if self._idle:
                return self._idle.pop()
        return _Child(self.cache_dir, self.max_payload_bytes)

    def _release(self, child: _Child) -> None:
        with self._lock:
            self._idle.append(child)

    def run(
        self,
        payload: bytes,
        args: Mapping[str, Any] | None = None,
        inputs: Inputs | None = None,
        outputs: Outputs | None = None,
        limits: Limits | None = None,
    ) -> RunResult:
        limits = limits or Limits()
        outputs = outputs if outputs is not None else MemoryOutputs()
        argv_strings(args or {})  # the caller's mistakes raise here, not in the child
        started = time.perf_counter()
        sha256 = hashlib.sha256(payload).hexdigest()
        module = (sha256, limits.fuel is not None, limits.stack)
        child = self._acquire()
        announce = module not in child.compiled
        request = {
            "sha256": sha256,
            "payload": None if child.payloads.hold(sha256, payload) else payload,
            "args": dict(args or {}),
            "inputs": inputs,
            "outputs": outputs,
            "limits": limits,
            "announce": announce,
        }
        try:
            child.send.send(request)
            result = self._await(child, limits, outputs, announce)
            if result.module_source:  # the run reached the child's module cache, which saw this use too
                child.compiled.use(module)
        except (OSError, EOFError) as exc:
            child.kill()
            result = RunResult(
                failure=Failure(
                    FailureKind.HOST_ERROR, f"the sandbox process failed ({child.exit_description()}): {exc}"
                )
            )
            outputs.discard()
        if child.process.poll() is None:
            self._release(child)
        result.wall_time = time.perf_counter() - started
        return result

    def _await(self, child: _Child, limits: Limits, outputs: Outputs, announced: bool) -> RunResult:
        """The run's result; its clock starts at "started" if the child announces it, at once otherwise."""
        if announced:
            if not child.receive.poll(COMPILE_SECONDS):
                return self._abandon(
                    child,
                    outputs,
                    FailureKind.HOST_ERROR,
                    f"compiling the payload took longer than {COMPILE_SECONDS:g} s",
                )
            message = child.receive.recv()
            if message != "started":  # the run ended before the payload could start
                return self._received(message, outputs)
        if not child.receive.poll(limits.timeout + GRACE_SECONDS):
            return self._abandon(
                child,
                outputs,
                FailureKind.TIMEOUT,
                f"the run exceeded its time limit of {limits.timeout:g} s; its sandbox process was killed",
            )
        return self._received(child.receive.recv(), outputs)

    @staticmethod
    def _abandon(child: _Child, outputs: Outputs, kind: FailureKind, message: str) -> RunResult:
        """Kill a child that did not answer in time; nothing it wrote is kept."""
        child.kill()
        outputs.discard()
        return RunResult(failure=Failure(kind, message))

    @staticmethod
    def _received(message: tuple[RunResult, Any], outputs: Outputs) -> RunResult:
        result, memory_results = message
        if isinstance(outputs, MemoryOutputs):
            outputs.results = memory_results
        return result
