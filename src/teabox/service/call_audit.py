"""Audit entries for the calls the platform never ran: every call to the API leaves one.

The platform audits each operation it runs, refused or failed (see
:meth:`teabox.platform.core.Platform.call`). A call can also be refused before
any operation runs (no token or a bad one, a malformed or oversized body, a
rate limit) or fail outside one; those are recorded here, with the client's
address, since the caller is unknown or unproven. Each is one short write,
in the thread pool, never on the event loop.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from starlette.concurrency import run_in_threadpool

from teabox.platform.core import Platform

PREFIX = "/api/v1"
_UNAUDITED = {f"{PREFIX}/health", f"{PREFIX}/ready"}

log = logging.getLogger("teabox.service")


def is_call(path: str) -> bool:
    """Whether a request is an API call (audited) rather than the health check or the API's description."""
    return path.startswith(f"{PREFIX}/") and path not in _UNAUDITED


def client_address(scope: Any) -> str:
    client = scope.get("client")
    return str(client[0]) if client else "unknown"


class CallAudit:
    def __init__(self, platform: Platform) -> None:
        self._platform = platform

    async def refused(self, scope: Any, code: str, message: str, user_id: str | None = None) -> None:
        """Record a call refused (or failed) before the platform ran it; never fails the answer itself.

        ``user_id`` is whom the call was for, where the service knows it (a login's user id).
        """
        path = str(scope.get("path", ""))
        if not is_call(path):
            return
        action = path.removeprefix(f"{PREFIX}/")
        note = f"{message} (client {client_address(scope)})"
        try:
            await run_in_threadpool(self._platform.audit, time.time(), user_id, action, None, code, note)
        except Exception:
            log.exception("could not audit a refused call to %s", path)
