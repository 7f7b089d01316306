"""The sandbox process: runs payloads it is sent, with no deadline of its own.

Its parent kills it at the deadline, so the engine carries no epoch checks.
It dies with its parent (``PR_SET_PDEATHSIG``), so an endless payload can
never outlive the process that started it.
"""

from __future__ import annotations

import ctypes
import os
import signal
import sys
from multiprocessing.connection import Connection
from pathlib import Path

from teabox.executor.data import MemoryOutputs
from teabox.executor.runner import InProcessRunner
from teabox.executor.sandbox import PayloadLRU

_PR_SET_PDEATHSIG = 1


def _die_with_parent(parent: int) -> None:
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() != parent:  # the parent died before prctl took effect
        os._exit(1)


def serve(receive: Connection, send: Connection, runner: InProcessRunner) -> None:
    payloads = PayloadLRU()
    while True:
        try:
            request = receive.recv()
        except EOFError:
            return
        sha256 = request["sha256"]
        payloads.hold(sha256, request["payload"])
        outputs = request["outputs"]
        # "started" is asked for only while the parent cannot know that the module is compiled here.
        announce = (lambda: send.send("started")) if request["announce"] else None
        result = runner.run(
            payloads.entries[sha256],
            request["args"],
            request["inputs"],
            outputs,
            request["limits"],
            on_start=announce,
            sha256=sha256,
        )
        send.send((result, outputs.results if isinstance(outputs, MemoryOutputs) else None))


def main(argv: list[str]) -> None:
    _die_with_parent(os.getppid())
    receive = Connection(int(argv[1]), writable=False)
    send = Connection(int(argv[2]), readable=False)
    max_payload_bytes = int(argv[3])
    cache_dir = Path(argv[4]) if len(argv) > 4 else None
    serve(receive, send, InProcessRunner(cache_dir, max_payload_bytes=max_payload_bytes, engine_deadline=False))


if __name__ == "__main__":
    main(sys.argv)
