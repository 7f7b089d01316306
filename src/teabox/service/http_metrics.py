"""How long the service takes to answer, by route, as a Prometheus histogram.

Pure ASGI middleware (no request objects, no extra task), in two parts.
:class:`RequestTimer`, the outermost layer, reads the clock when a request
comes in and when the application has answered it, notes the response's status
as it passes, and observes once. The route that answered is known only to the
router, deep inside, and a layer in between may pass a copy of the request's
scope inward (``JsonBodies`` does), so :class:`RouteNote`, the innermost layer,
hands it out through a note the timer put in the scope. Labels are bounded whatever
clients send: the route is the template the request matched (a task id in a
console path is not a label), every path that matched no route counts as
``unrouted`` (with the calls refused before routing, for a malformed or oversized body, and
the console's static files, which a mount serves), and an unknown method as ``OTHER``.
"""

from __future__ import annotations

import time

from prometheus_client import Histogram
from starlette.types import ASGIApp, Message, Receive, Scope, Send

UNMATCHED = "unrouted"
_NOTE = "teabox.route"
_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})

REQUEST_SECONDS = Histogram(
    "teabox_http_request_duration_seconds",
    "Seconds from a request's arrival until its answer was sent, by method, route template and status.",
    ["method", "route", "status"],
)


# The series of each (method, route, status) seen: looked up once, since ``labels()`` costs more than observing.
_series: dict[tuple[str, str, int], Histogram] = {}


def _new_series(key: tuple[str, str, int]) -> Histogram:
    method, route, status = key
    _series[key] = series = REQUEST_SECONDS.labels(method, route, str(status))
    return series


class RequestTimer:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500  # what the client gets if the application fails before it answers

        async def noting_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        note: list[str] = []
        scope[_NOTE] = note
        try:
            await self.app(scope, receive, noting_status)
        finally:
            method = scope["method"] if scope["method"] in _METHODS else "OTHER"
            key = (method, note[0] if note else UNMATCHED, status)
            series = _series.get(key) or _new_series(key)
            series.observe(time.perf_counter() - started)


class RouteNote:
    """Writes the template of the route that answered into the timer's note."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await self.app(scope, receive, send)
        finally:
            note = scope.get(_NOTE)
            template = getattr(scope.get("route"), "path", None)
            if note is not None and isinstance(template, str):
                note.append(template)
