"""JSON call bodies: read here, counted as they arrive, refused past their limit before they are parsed.

A body's size is the bytes actually received, so a chunked body (which
announces no length) is held to the same limit as one that announces it, and
reading stops at the first byte over the limit: memory per call is bounded
whatever the client sends. A call whose limit is large (the registrations that
may carry a payload inline) must also show a valid token before its body is
read, so an anonymous client can make the service read only small bodies.

A plain ASGI middleware: Starlette's ``BaseHTTPMiddleware`` would add a task
group and a stream per request. Raw uploads are not buffered here; their
endpoints authenticate first and stream to the blob store under their own limit.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from starlette.concurrency import run_in_threadpool

from teabox.platform.errors import PlatformError, TooLarge
from teabox.service.bearer import bearer
from teabox.service.call_audit import CallAudit, is_call
from teabox.service.errors import platform_error_response

Authenticate = Callable[[str | None], object]


class JsonBodies:
    """Every RPC body is JSON of bounded size.

    It is read as JSON whatever Content-Type it came with (``curl -d`` sends a
    form type).
    """

    def __init__(
        self,
        app: Any,
        *,
        max_bytes: int,
        larger: Mapping[str, int],
        raw_paths: frozenset[str],
        authenticate: Authenticate,
        audit: CallAudit,
    ) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.larger = larger
        self.raw_paths = raw_paths
        self.authenticate = authenticate
        self.audit = audit

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        path = scope.get("path", "")
        if scope["type"] != "http" or scope["method"] != "POST" or path in self.raw_paths or not is_call(path):
            await self.app(scope, receive, send)
            return
        limit = self.larger.get(path, self.max_bytes)
        try:
            headers = [(k, v) for k, v in scope["headers"] if k != b"content-type"]
            length = next((v for k, v in headers if k == b"content-length"), b"")
            if length.isdigit() and int(length) > limit:
                raise TooLarge(f"the request body is larger than {limit} bytes")
            if path in self.larger:
                token = next((v.decode("latin-1") for k, v in headers if k == b"authorization"), None)
                await run_in_threadpool(self.authenticate, bearer(token))
            body = await read_body(receive, limit)
        except PlatformError as exc:
            await self.audit.refused(scope, exc.code, exc.message)
            await platform_error_response(exc)(scope, receive, send)
            return
        if body is None:  # the client went away
            return
        scope = dict(scope, headers=[*headers, (b"content-type", b"application/json")])
        await self.app(scope, replay_body(body, receive), send)


async def read_body(receive: Any, limit: int) -> bytes | None:
    """The whole body, or None if the client disconnected; TooLarge at the first byte over ``limit``."""
    body = bytearray()
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return None
        body += message.get("body", b"")
        if len(body) > limit:
            raise TooLarge(f"the request body is larger than {limit} bytes")
        if not message.get("more_body", False):
            return bytes(body)


def replay_body(body: bytes, receive: Any) -> Any:
    """A ``receive`` that hands the application ``body`` (already read) as one message."""
    sent = False

    async def replay() -> Any:
        nonlocal sent
        if sent:
            return await receive()  # after the body: wait for the disconnect, as the server would
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    return replay
