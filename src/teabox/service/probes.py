"""What load balancers and monitoring ask: ``/health``, ``/ready`` and ``/metrics``.

``/health`` says the process is alive and serving HTTP; it touches nothing
else, so a slow or lost database never makes a balancer kill a server that
would recover by itself. ``/ready`` says whether the server can do its work
now: the database answers, the blob store is reachable and the data directory
has room; a 503 names what failed (by component and error class only: the
world may ask, and the details, which may name hosts, go to the log). The
older ``/api/v1/ready`` answers the same. ``/metrics`` is the Prometheus
exposition, for whom :class:`teabox.service.metrics_access.MetricsAccess`
allows. None of them is audited or in the API's description.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, generate_latest
from prometheus_client.multiprocess import MultiProcessCollector
from sqlalchemy import text

from teabox import config
from teabox.platform.core import Platform
from teabox.platform.disk_space import ROOM_AGAIN_BYTES
from teabox.platform.queue_metrics import QueueCollector
from teabox.service import errors
from teabox.service.answers import ErrorBody, Ready
from teabox.service.bearer import authorization_header
from teabox.service.call_audit import PREFIX
from teabox.service.metrics_access import MetricsAccess

log = logging.getLogger("teabox.service")
_NO_STORE = {"Cache-Control": "no-store"}
_NOT_READY = {"model": ErrorBody, "description": "not_ready or storage_full, naming each check that failed"}


def mount_probes(app: FastAPI, platform: Platform, metrics_access: MetricsAccess) -> None:
    checks: dict[str, Callable[[], str | None]] = {
        "database": _reachable("the database", lambda: _select_one(platform)),
        "blobs": _reachable("the blob store", platform.blobs.probe),
        "disk": lambda: _disk(platform),
    }
    figures = _figures(platform)

    @app.get("/health", include_in_schema=False)
    async def health() -> JSONResponse:
        return JSONResponse({"status": "ok"}, headers=_NO_STORE)

    @app.get("/ready", include_in_schema=False)
    @app.get(f"{PREFIX}/ready", tags=["service"], response_model=Ready, responses={503: _NOT_READY})
    def ready() -> JSONResponse:
        """200 when the database, the blob store and the disk are all fine; 503 naming each that is not."""
        found = {name: check() for name, check in checks.items()}
        failed = {name: problem for name, problem in found.items() if problem is not None}
        report = {name: found[name] or "ok" for name in found}
        if not failed:
            return JSONResponse({"status": "ok", "checks": report}, headers=_NO_STORE)
        code = "storage_full" if set(failed) == {"disk"} else "not_ready"
        message = "not ready: " + "; ".join(f"{name} {problem}" for name, problem in failed.items())
        answer = errors.error_response(503, code, message)
        answer.headers.update(_NO_STORE)
        return answer

    @app.get("/metrics", include_in_schema=False)
    def metrics(request: Request) -> Response:
        if not metrics_access.enabled:
            return errors.error_response(
                403, "forbidden", "/metrics is not enabled on this server: see --metrics-token-file and --metrics-allow"
            )
        if not metrics_access.allows(request.scope, authorization_header(request)):
            return errors.error_response(
                403, "forbidden", "reading /metrics needs the metrics token or a client address the server allows"
            )
        return Response(figures(), media_type=CONTENT_TYPE_LATEST, headers=_NO_STORE)


def _figures(platform: Platform) -> Callable[[], bytes]:
    """The exposition: every process's histograms (see teabox.platform.metrics_dir), then the queue's state."""
    queue = CollectorRegistry()
    queue.register(QueueCollector(platform.storage.queue))
    shared = config.METRICS_DIR.get()
    if shared:
        processes = CollectorRegistry()
        MultiProcessCollector(processes, path=shared)  # type: ignore[no-untyped-call]
    else:
        processes = REGISTRY  # one process: its own figures are all there is

    def expose() -> bytes:
        return generate_latest(processes) + generate_latest(queue)

    return expose


def _reachable(what: str, probe: Callable[[], object]) -> Callable[[], str | None]:
    def check() -> str | None:
        try:
            probe()
        except Exception as exc:
            log.warning("readiness: %s is unreachable: %s", what, exc)
            return f"unreachable ({type(exc).__name__})"
        return None

    return check


def _select_one(platform: Platform) -> None:
    with platform.storage.database.reading() as connection:
        connection.execute(text("SELECT 1"))


def _disk(platform: Platform) -> str | None:
    disk = platform.storage.disk
    try:
        free = disk.free_bytes()
    except OSError as exc:
        log.warning("readiness: cannot read the data directory's free space: %s", exc)
        return f"unreadable ({type(exc).__name__})"
    if disk.full or free < ROOM_AGAIN_BYTES:
        return "full"
    return None
