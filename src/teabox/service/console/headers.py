"""Security headers on every console response, and bounded request bodies.

The policy allows scripts, styles and connections from the console's own
origin only and no inline script at all, so markup injected through a
user-controlled field (a task argument, a file name) cannot run; the pages
may not be framed (clickjacking an approval button). A form's body is read
here, counted as it arrives and refused past its limit, like an API call's;
an encrypted upload streams to the blob store under the upload limit instead.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from teabox.platform.errors import TooLarge
from teabox.service.bodies import read_body, replay_body
from teabox.service.errors import platform_error_response

CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
    "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
_HEADERS = [
    (b"content-security-policy", CONTENT_SECURITY_POLICY.encode()),
    (b"x-frame-options", b"DENY"),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"same-origin"),
    (b"cache-control", b"no-store"),
]


class ConsoleRequests:
    """A plain ASGI middleware for requests under ``prefix``: the headers above, and body limits.

    A POST body may be at most ``form_bytes``, or what ``larger`` says for its path;
    paths in ``streamed`` are passed on unread (their handlers bound what they store).
    """

    def __init__(
        self, app: Any, *, prefix: str, form_bytes: int, larger: Mapping[str, int], streamed: frozenset[str]
    ) -> None:
        self.app = app
        self.prefix = prefix
        self.form_bytes = form_bytes
        self.larger = larger
        self.streamed = streamed

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http" or not scope["path"].startswith(self.prefix):
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Any) -> None:
            if message["type"] == "http.response.start":
                message = dict(message, headers=[*message.get("headers", []), *_HEADERS])
            await send(message)

        if scope["method"] == "POST" and scope["path"] not in self.streamed:
            try:
                body = await read_body(receive, self.larger.get(scope["path"], self.form_bytes))
            except TooLarge as exc:
                await platform_error_response(exc)(scope, receive, send_with_headers)
                return
            if body is None:  # the client went away
                return
            receive = replay_body(body, receive)
        await self.app(scope, receive, send_with_headers)
