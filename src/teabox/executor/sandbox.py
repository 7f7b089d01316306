"""Runs payloads in sandbox processes that are killed at their deadline.

Epoch interruption puts a check at every loop head and call, which costs
compute-heavy payloads a large share of their speed. Enforcing the wall-clock
limit from outside costs nothing while the payload runs: each run goes to a
child process whose engine has no epoch checks, and a child that has not
answered by the deadline is killed (and replaced on demand). A crash of the
engine takes only the child with it.

The child is confined (:mod:`confinement`): it opens no files, so this side
opens each input and output and passes the descriptors with the request (an
in-memory input or output travels as a memfd); it keeps no disk cache, so this
side reads compiled artifacts from the disk cache and passes them, and keeps
those the child compiled. Requests and replies are data-only frames
(:mod:`wire`), never pickles.
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
import socket
import subprocess
import sys
import threading
import time
import weakref
from collections import OrderedDict
from collections.abc import Hashable, Mapping
from pathlib import Path
from typing import Any, BinaryIO

from teabox.abi.argv import argument_text, argv_strings
from teabox.abi.check import DEFAULT_MAX_PAYLOAD_BYTES
from teabox.executor import wire
from teabox.executor.cache import ModuleCache
from teabox.executor.confinement import MAX_DATA_FILES, sandbox_user
from teabox.executor.data import Inputs, MemoryOutputs, Outputs
from teabox.executor.engine import EngineSpec
from teabox.executor.limits import Limits
from teabox.executor.result import Failure, RunResult
from teabox.failure_kinds import FailureKind

# Slack for the child's own work after the deadline check (instantiation, result message).
GRACE_SECONDS = 0.05
# Time a sandbox process may take to start up and confine itself.
START_SECONDS = 120.0
# The largest reply: a result and a compiled artifact.
MAX_REPLY_BYTES = 2**31
# Payloads a sandbox process keeps in memory.
_KEEP_PAYLOADS = 64
# How many of a sandbox process's most recently used modules its parent counts as compiled there:
# fewer than the process's module cache keeps in memory, so every one of them surely is.
_SURELY_COMPILED = 32
# coverage.py starts measuring in any Python process whose environment holds one of these (its
# ``patch = ["subprocess"]`` sets the first for every process a measured test suite starts). A sandbox
# process could never save what it measured: it confines itself (another user, no file may be opened)
# before its first run. So it starts without them, which also keeps a tracer out of the confined
# process and off the payload's host calls.
_COVERAGE_VARIABLES = ("COVERAGE_PROCESS_CONFIG", "COVERAGE_PROCESS_START")


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


def request_limits(data: Mapping[str, Any]) -> Limits:
    """The limits a request carries, as :func:`dataclasses.asdict` wrote them."""
    return Limits(**{f.name: data[f.name] for f in dataclasses.fields(Limits)})


class _Child:
    """One sandbox process, its connection, and the pipe whose closing tells it that this process is gone."""

    def __init__(self, max_payload_bytes: int, user: str) -> None:
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        watch_read, self.watch = os.pipe()
        command = [
            sys.executable,
            "-m",
            "teabox.executor.sandbox_child",
            str(theirs.fileno()),
            str(watch_read),
            str(max_payload_bytes),
            user,
        ]
        try:
            self.process = subprocess.Popen(
                command,
                pass_fds=(theirs.fileno(), watch_read),
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                close_fds=True,
                env={name: value for name, value in os.environ.items() if name not in _COVERAGE_VARIABLES},
            )
        finally:
            theirs.close()
            os.close(watch_read)
        self.sock = ours
        try:  # the time limit of the first run must not count the interpreter's start-up
            ours.settimeout(START_SECONDS)
            ready, _ = wire.receive(ours, max_bytes=1024)
            if ready.get("type") != "ready":
                raise ValueError(f"unexpected first message from the sandbox process: {ready!r}")
        except BaseException:
            self.kill()
            raise
        # The payloads this child holds, kept in step with the child's own LRU.
        self.payloads: PayloadLRU = PayloadLRU()
        # Modules this child has compiled and still holds, by (sha256, fuel metering, stack limit):
        # their runs need no "started" message, since no compilation can come before the payload.
        self.compiled = RecentKeys(_SURELY_COMPILED)

    def kill(self) -> None:
        if self.watch < 0:
            return
        self.process.kill()
        self.process.wait()
        self.sock.close()
        os.close(self.watch)
        self.watch = -1

    def exit_description(self) -> str:
        code = self.process.wait()
        return f"killed by signal {-code}" if code < 0 else f"exited with status {code}"


def _descriptor(stream: BinaryIO, name: str) -> tuple[int, bool]:
    """A descriptor for ``stream`` and whether it is a memfd copy of it (for streams that are not files)."""
    try:
        return stream.fileno(), False
    except (OSError, ValueError):  # io.UnsupportedOperation is both
        fd = os.memfd_create(f"teabox-{name}"[:200], os.MFD_CLOEXEC)
        data = stream.read() if stream.readable() else b""
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
        return fd, True


class _Staged:
    """A run's inputs and outputs opened on this side, as descriptors for the sandbox process."""

    def __init__(self, inputs: Inputs | None, outputs: Outputs) -> None:
        self.outputs = outputs
        self.input_names: list[str] = []
        self.output_names: list[str] = []
        self.problems: dict[str, str] = {}
        self.fds: list[int] = []
        self._memfds: list[int] = []
        self._streams: list[BinaryIO] = []
        self._copy_back: list[tuple[str, int, BinaryIO]] = []
        names = list(inputs.names()) if inputs is not None else []
        if len(names) + len(outputs.names()) > MAX_DATA_FILES:
            raise ValueError(f"a sandboxed run takes at most {MAX_DATA_FILES} inputs and outputs together")
        for name in names:
            try:
                stream = inputs.open(name)  # type: ignore[union-attr]
            except (KeyError, OSError) as exc:
                self.problems[name] = str(exc)
                continue
            self.input_names.append(name)
            self._add(stream, name)
        for name in outputs.names():
            self.output_names.append(name)
            stream = outputs.create(name)
            if self._add(stream, name):
                self._copy_back.append((name, self.fds[-1], stream))

    def _add(self, stream: BinaryIO, name: str) -> bool:
        fd, copied = _descriptor(stream, name)
        self.fds.append(fd)
        if copied:
            self._memfds.append(fd)
        self._streams.append(stream)
        return copied

    def finish(self, result: RunResult, limits: Limits) -> None:
        """Commit the outputs if the run succeeded (within its output limit), else discard them."""
        try:
            if result.ok:
                written = sum(os.fstat(fd).st_size for fd in self.fds[len(self.input_names) :])
                if written > limits.max_output_bytes:  # only a misbehaving sandbox process gets here
                    result.failure = Failure(
                        FailureKind.HOST_ERROR,
                        f"the sandbox process wrote {written} bytes, more than the output limit",
                    )
                    result.return_value = None
            if result.ok:
                for _, fd, stream in self._copy_back:
                    stream.write(os.pread(fd, os.fstat(fd).st_size, 0))
                self.outputs.commit()
            else:
                self.outputs.discard()
        finally:
            for stream in self._streams:
                stream.close()
            for fd in self._memfds:
                os.close(fd)


class SandboxRunner:
    """A pool of sandbox processes; one run at a time per process, as many processes as concurrent runs.

    ``user`` is the account sandbox processes switch to when teabox runs as root
    (default: ``$TEABOX_SANDBOX_USER``, else ``nobody``).

    With ``spare`` (the default) one more process is kept started and idle,
    started in the background after a run: when a run's process is killed (its
    time limit, a crash), the next run takes the spare instead of waiting for an
    interpreter to start and confine itself. ``cold_starts`` counts the runs
    that did wait for a process to start.
    """

    def __init__(
        self,
        cache_dir: Path | None = None,
        *,
        max_payload_bytes: int = DEFAULT_MAX_PAYLOAD_BYTES,
        user: str | None = None,
        spare: bool = True,
    ) -> None:
        self.disk = ModuleCache(cache_dir)
        self.max_payload_bytes = max_payload_bytes
        self.user = user or sandbox_user()
        self.spare = spare
        self.cold_starts = 0
        self._idle: list[_Child] = []
        self._spares: list[_Child] = []  # at most one: started, never used, so its caches are empty
        self._starter: threading.Thread | None = None
        self._lock = threading.Lock()
        self._finalizer = weakref.finalize(self, SandboxRunner._kill_all, self._idle, self._spares)

    @staticmethod
    def _kill_all(*groups: list[_Child]) -> None:
        for children in groups:
            while children:
                children.pop().kill()

    def close(self) -> None:
        """Stop the idle sandbox processes and the spare (they also exit when this process does)."""
        self.wait_for_spare()
        with self._lock:
            self._kill_all(self._idle, self._spares)

    def wait_for_spare(self) -> None:
        """Return once no spare is being started (for a caller that needs it in place before going on)."""
        starter = self._starter
        if starter is not None:
            starter.join()

    def _acquire(self) -> _Child:
        while True:
            with self._lock:
                if self._idle:  # a process that ran before holds this runner's recent payloads and modules
                    return self._idle.pop()
                if self._spares:
                    return self._spares.pop()
                starter = self._starter
            if starter is None or not starter.is_alive():
                break
            starter.join()  # a spare on its way comes sooner than a process started now
        with self._lock:
            self.cold_starts += 1
        return _Child(self.max_payload_bytes, self.user)

    def _release(self, child: _Child) -> None:
        with self._lock:
            self._idle.append(child)

    def _keep_spare(self) -> None:
        """Start a spare in the background unless one is ready or on its way."""
        with self._lock:
            if not self.spare or self._spares or (self._starter is not None and self._starter.is_alive()):
                return
            self._starter = threading.Thread(target=self._start_spare, name="teabox-sandbox-spare", daemon=True)
            self._starter.start()

    def _start_spare(self) -> None:
        try:
            child = _Child(self.max_payload_bytes, self.user)
        except Exception:  # the next run that needs a process starts one itself and reports why it could not
            return
        with self._lock:
            self._spares.append(child)

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
        spec = EngineSpec(epoch=False, fuel=limits.fuel is not None, stack=limits.stack)
        module = (sha256, spec.fuel, spec.stack)
        staged = _Staged(inputs, outputs)
        try:
            child = self._acquire()
        except Exception as exc:
            result = RunResult(failure=Failure(FailureKind.HOST_ERROR, f"no sandbox process could be started: {exc}"))
            staged.finish(result, limits)
            return result
        announce = module not in child.compiled
        artifact = self.disk.load_artifact(spec, sha256) if announce else None
        request = {
            "sha256": sha256,
            "payload": None if child.payloads.hold(sha256, payload) else payload,
            "artifact": artifact,
            "want_artifact": announce and artifact is None,
            "args": {key: argument_text(value) for key, value in (args or {}).items()},
            "inputs": staged.input_names,
            "outputs": staged.output_names,
            "input_problems": staged.problems,
            "limits": dataclasses.asdict(limits),
            "announce": announce,
        }
        try:
            child.sock.settimeout(None)
            wire.send(child.sock, request, staged.fds)
            result, compiled = self._await(child, limits, announce, time.perf_counter())
            if result.module_source:  # the run reached the child's module cache, which saw this use too
                child.compiled.use(module)
            if compiled is not None:
                self.disk.store_artifact(spec, sha256, compiled)
        except Exception as exc:  # whatever went wrong, this child is not trusted with another run
            child.kill()
            result = RunResult(
                failure=Failure(
                    FailureKind.HOST_ERROR, f"the sandbox process failed ({child.exit_description()}): {exc}"
                )
            )
        staged.finish(result, limits)
        if child.process.poll() is None:
            self._release(child)
        result.wall_time = time.perf_counter() - started
        self._keep_spare()
        return result

    def _await(self, child: _Child, limits: Limits, announced: bool, started: float) -> tuple[RunResult, bytes | None]:
        """The result and any artifact the child compiled; the time limit runs from ``started``, compiling included.

        ``started`` is when the request was sent, so it counts the child's reading of the payload too.
        """
        deadline = started + limits.timeout + GRACE_SECONDS
        reply = self._receive(child, deadline)
        if reply is None:
            compiling = "compiling the payload" if announced else "the run"
            return self._abandon(
                child,
                f"{compiling} exceeded the time limit of {limits.timeout:g} s; its sandbox process was killed",
            )
        if reply.get("type") == "started":
            reply = self._receive(child, deadline)
            if reply is None:
                return self._abandon(
                    child, f"the run exceeded its time limit of {limits.timeout:g} s; its sandbox process was killed"
                )
        if reply.get("type") != "result":
            raise ValueError(f"unexpected message from the sandbox process: {reply.get('type')!r}")
        compiled = reply.get("artifact")
        if compiled is not None and not isinstance(compiled, bytes):
            raise TypeError("the sandbox process sent an artifact that is not bytes")
        return RunResult.from_dict(reply["result"]), compiled

    @staticmethod
    def _receive(child: _Child, deadline: float) -> dict[str, Any] | None:
        """The next message, or None if none came whole by the deadline."""
        remaining = deadline - time.perf_counter()
        if remaining <= 0:
            return None
        child.sock.settimeout(remaining)
        try:
            message, _ = wire.receive(child.sock, max_bytes=MAX_REPLY_BYTES)
        except TimeoutError:
            return None
        return message

    @staticmethod
    def _abandon(child: _Child, message: str) -> tuple[RunResult, None]:
        """Kill a child that did not answer in time; nothing it wrote is kept."""
        child.kill()
        return RunResult(failure=Failure(FailureKind.TIMEOUT, message)), None
