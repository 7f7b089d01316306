"""The sandbox process: runs payloads it is sent, with no deadline of its own.

Its parent kills it at the deadline, so the engine carries no epoch checks.
It confines itself before its first request (see :mod:`confinement`) and
exits as soon as the pipe from its parent reports the parent gone: unlike
``PR_SET_PDEATHSIG``, which fires when the *thread* that started the process
exits, the pipe closes only when the parent process itself does.
"""

from __future__ import annotations

import os
import socket
import sys
import threading
from typing import Any

from teabox.executor import wire
from teabox.executor.confinement import MAX_DATA_FILES, confine, limit_cpu_for_run
from teabox.executor.limits import Limits
from teabox.executor.passed_data import PassedInputs, PassedOutputs
from teabox.executor.result import RunResult
from teabox.executor.runner import InProcessRunner
from teabox.executor.sandbox import PayloadLRU, request_limits

# The largest request: a payload and its compiled artifact, with room to spare.
MAX_REQUEST_BYTES = 2**31


def _exit_with_parent(watch_fd: int) -> None:
    """Wait until the parent's end of the watch pipe closes (it never writes), then exit."""

    def watch() -> None:
        while os.read(watch_fd, 1):
            pass
        os._exit(0)

    threading.Thread(target=watch, name="teabox-parent-watch", daemon=True).start()


def _run(
    runner: InProcessRunner, sock: socket.socket, payloads: PayloadLRU, request: dict[str, Any], fds: list[int]
) -> tuple[RunResult, bytes | None]:
    sha256: str = request["sha256"]
    payloads.hold(sha256, request["payload"])
    names_in: list[str] = request["inputs"]
    names_out: list[str] = request["outputs"]
    inputs = PassedInputs(dict(zip(names_in, fds, strict=False)), request["input_problems"])
    outputs = PassedOutputs(dict(zip(names_out, fds[len(names_in) :], strict=False)))
    limits: Limits = request_limits(request["limits"])
    limit_cpu_for_run(limits.timeout)
    # "started" is asked for only while the parent cannot know that the module is compiled here.
    announce = (lambda: wire.send(sock, {"type": "started"})) if request["announce"] else None
    result = runner.run(
        payloads.entries[sha256],
        request["args"],
        inputs,
        outputs,
        limits,
        on_start=announce,
        sha256=sha256,
        artifact=request["artifact"],
    )
    artifact = None
    if request["want_artifact"] and result.module_source == "compiled":
        artifact = runner.compiled_artifact(sha256, limits)
    return result, artifact


def serve(sock: socket.socket, runner: InProcessRunner) -> None:
    payloads = PayloadLRU()
    while True:
        try:
            request, fds = wire.receive(sock, max_bytes=MAX_REQUEST_BYTES, max_fds=MAX_DATA_FILES)
        except EOFError:
            return
        try:
            result, artifact = _run(runner, sock, payloads, request, fds)
        finally:
            for fd in fds:
                os.close(fd)
        wire.send(sock, {"type": "result", "result": result.to_dict(), "artifact": artifact})


def main(argv: list[str]) -> None:
    sock_fd, watch_fd, max_payload_bytes, user = int(argv[1]), int(argv[2]), int(argv[3]), argv[4]
    _exit_with_parent(watch_fd)
    sock = socket.socket(fileno=sock_fd)
    runner = InProcessRunner(max_payload_bytes=max_payload_bytes, engine_deadline=False, disk_cache=False)
    confine((sock_fd, watch_fd), user)
    wire.send(sock, {"type": "ready"})
    serve(sock, runner)


if __name__ == "__main__":
    main(sys.argv)
