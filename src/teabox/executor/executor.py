"""``Executor``: the public entry point, choosing where a payload runs.

Two ways to enforce the wall-clock limit, with the same results otherwise:

- ``isolation="in-process"`` (the default) runs on the caller's thread and
  stops a payload at its deadline with epoch interruption inside the engine.
  Nothing to start, lowest latency, but the checks slow compute-heavy code.
- ``isolation="subprocess"`` runs in a sandbox process killed at the
  deadline: full compute speed, crash isolation, a little latency per run.

Each is a :class:`Runner`; the executor only ever calls ``run`` and ``close``.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal, Protocol

from teabox.abi.check import DEFAULT_MAX_PAYLOAD_BYTES
from teabox.executor.cache import ModuleCache
from teabox.executor.data import Inputs, Outputs
from teabox.executor.limits import Limits
from teabox.executor.result import RunResult
from teabox.executor.runner import InProcessRunner
from teabox.executor.sandbox import SandboxRunner

Isolation = Literal["in-process", "subprocess"]


class Runner(Protocol):
    """Where payloads run: all an :class:`Executor` asks of the place it hands them to."""

    def run(
        self,
        payload: bytes,
        args: Mapping[str, Any] | None = None,
        inputs: Inputs | None = None,
        outputs: Outputs | None = None,
        limits: Limits | None = None,
    ) -> RunResult:
        """Run one payload; every failure of the payload's is in the result."""
        ...

    def close(self) -> None:
        """Release what the runner holds between runs."""
        ...


class Executor:
    """Runs payloads; safe to share between threads (every run has its own store)."""

    def __init__(
        self,
        cache_dir: Path | None = None,
        *,
        isolation: Isolation = "in-process",
        max_payload_bytes: int = DEFAULT_MAX_PAYLOAD_BYTES,
        sandbox_user: str | None = None,
        sandbox_spare: bool = True,
    ) -> None:
        """``sandbox_user`` is the account sandbox processes run as when teabox runs as root
        (default ``$TEABOX_SANDBOX_USER``, else ``nobody``); it is not used otherwise.
        ``sandbox_spare`` keeps one more sandbox process started, for the run after a killed one."""
        self._cache: ModuleCache | None = None
        if isolation == "in-process":
            in_process = InProcessRunner(cache_dir, max_payload_bytes=max_payload_bytes)
            self._cache = in_process.cache
            self._runner: Runner = in_process
        elif isolation == "subprocess":
            self._runner = SandboxRunner(
                cache_dir, max_payload_bytes=max_payload_bytes, user=sandbox_user, spare=sandbox_spare
            )
        else:
            raise ValueError(f"isolation must be 'in-process' or 'subprocess', not {isolation!r}")
        self.isolation = isolation

    @property
    def cache(self) -> ModuleCache:
        """The compiled-module cache of in-process runs (sandbox processes keep their own)."""
        if self._cache is None:
            raise AttributeError("a subprocess executor's module caches live in its sandbox processes")
        return self._cache

    def run(
        self,
        payload: bytes,
        args: Mapping[str, Any] | None = None,
        inputs: Inputs | None = None,
        outputs: Outputs | None = None,
        limits: Limits | None = None,
    ) -> RunResult:
        """Run ``entrypoint(argc, argv)`` of ``payload`` with the given data and limits.

        Never raises for what the payload does: every failure is in the result.
        Raises :class:`~teabox.errors.InvalidArguments` for an argument with a
        NUL byte.
        """
        return self._runner.run(payload, args, inputs, outputs, limits)

    def close(self) -> None:
        """Release sandbox processes; in-process executors hold nothing to release."""
        self._runner.close()
