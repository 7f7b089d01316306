"""The exceptions the SDK raises.

Teaclave's SDK wrapped every failure in one ``TeaclaveException`` with the
gRPC text glued on, so a caller could not tell "wrong password" from "task in
the wrong state" without parsing prose. Here each HTTP error class has its own
type, and every instance carries the server's machine-readable ``code`` and its
human ``message`` unchanged.
"""

from __future__ import annotations

from typing import Any

from teabox.errors import TeaboxError


class ClientError(TeaboxError):
    """Any failure of an SDK call: refused by the server, or the server unreachable."""


# Teaclave scripts catch ``TeaclaveException``: here it is the base of every SDK error.
TeaclaveException = ClientError


class ConnectionFailed(ClientError):
    """The server could not be reached or did not answer in time."""


class ApiError(ClientError):
    """The server refused a request; ``status``, ``code`` and ``message`` are the server's own."""

    status: int = 0

    def __init__(
        self, message: str, *, code: str = "error", status: int | None = None, method: str = "", details: Any = None
    ) -> None:
        if status is not None:
            self.status = status
        self.code = code
        self.message = message
        self.method = method
        self.details = details
        where = f"{method}: " if method else ""
        super().__init__(f"{where}{message} [{self.status} {code}]")


class BadRequest(ApiError):
    """400: the request was malformed (not JSON, a missing field, a wrong type)."""

    status = 400


class Unauthenticated(ApiError):
    """401: no token, an expired or revoked token, or a wrong password."""

    status = 401


class Forbidden(ApiError):
    """403: the caller's role or ownership does not allow this call."""

    status = 403


class NotFound(ApiError):
    """404: an unknown user, function, file or task id."""

    status = 404


class Conflict(ApiError):
    """409: the object is in the wrong state for this call, or already exists."""

    status = 409


class PayloadTooLarge(ApiError):
    """413: an upload or request body over the server's size limit."""

    status = 413


class InvalidRequest(ApiError):
    """422: an invalid payload, arguments that do not match the function, bad crypto info."""

    status = 422


class ServerError(ApiError):
    """5xx: the server failed; the request may be retried."""

    status = 500


_BY_STATUS: dict[int, type[ApiError]] = {
    cls.status: cls
    for cls in (BadRequest, Unauthenticated, Forbidden, NotFound, Conflict, PayloadTooLarge, InvalidRequest)
}


def error_for_status(status: int) -> type[ApiError]:
    """The exception class for an HTTP status; unknown 4xx map to the base class."""
    if status >= 500:
        return ServerError
    return _BY_STATUS.get(status, ApiError)


class TaskError(ClientError):
    """A task did not produce a result; ``task_id`` names it."""

    def __init__(self, task_id: str, message: str) -> None:
        self.task_id = task_id
        super().__init__(message)


class TaskFailed(TaskError):
    """The task ended Failed. ``kind`` is the failure kind (``trap``, ``timeout``,
    ``input_error``, ...) and ``reason`` the sentence the worker recorded."""

    def __init__(self, task_id: str, kind: str, reason: str) -> None:
        self.kind = kind
        self.reason = reason
        super().__init__(task_id, f"task {task_id} failed ({kind}): {reason}")


class TaskCanceled(TaskError):
    """The task was canceled before it produced a result."""

    def __init__(self, task_id: str, reason: str = "") -> None:
        self.reason = reason
        super().__init__(task_id, f"task {task_id} was canceled" + (f": {reason}" if reason else ""))


class TaskWaitTimeout(TaskError, TimeoutError):
    """The task had not ended when the caller's timeout ran out; it may still finish."""

    def __init__(self, task_id: str, timeout: float, status: str) -> None:
        self.timeout = timeout
        self.status = status
        super().__init__(task_id, f"task {task_id} still {status} after waiting {timeout:g} s")
