"""CPU cost of the HTTP latency histogram: the service's two ASGI layers around an application that does nothing.

Each round sends the same request through the bare application and through
``RequestTimer`` and ``RouteNote`` around it, on one event loop, and reports
the CPU time (``time.process_time``) per request of each and their difference:
what every request pays for ``teabox_http_request_duration_seconds``.
``--multiprocess`` measures the mode ``teabox serve`` runs in (figures kept in
memory-mapped files, see teabox.platform.metrics_dir).

``python bench/request_timer.py [--requests N] [--multiprocess]``
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from types import SimpleNamespace
from typing import Any

if __name__ == "__main__" and not __package__:
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

_ROUTE = SimpleNamespace(path="/api/v1/get_task")


async def _app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    scope["route"] = _ROUTE  # what the router does
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"{}"})


async def _send(_message: Any) -> None:
    return None


async def _receive() -> dict[str, Any]:
    return {"type": "http.request", "body": b""}


async def _cpu_per_request(app: Any, requests: int) -> float:
    started = time.process_time()
    for _ in range(requests):
        await app({"type": "http", "method": "POST", "path": "/api/v1/get_task"}, _receive, _send)
    return (time.process_time() - started) / requests


def main(requests: int, rounds: int) -> None:
    from teabox.service.http_metrics import RequestTimer, RouteNote

    timed = RequestTimer(RouteNote(_app))
    bare, wrapped = [], []
    for _ in range(rounds):
        bare.append(asyncio.run(_cpu_per_request(_app, requests)))
        wrapped.append(asyncio.run(_cpu_per_request(timed, requests)))
    mode = "multiprocess" if os.environ.get("PROMETHEUS_MULTIPROC_DIR") else "single process"
    median_bare, median_wrapped = statistics.median(bare), statistics.median(wrapped)
    print(
        f"{mode}: bare {median_bare * 1e6:.2f} µs, timed {median_wrapped * 1e6:.2f} µs, "
        f"cost {(median_wrapped - median_bare) * 1e6:.2f} µs CPU per request (median of {rounds} × {requests})"
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=50_000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--multiprocess", action="store_true")
    options = parser.parse_args()
    if options.multiprocess:
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="teabox-metrics-")
    main(options.requests, options.rounds)
