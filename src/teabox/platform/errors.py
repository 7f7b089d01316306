"""The platform's refusals, each carrying the HTTP status and code the service maps it to.

The domain raises these and nothing else for a request it refuses, so the
service layer maps errors with one table and every refusal reaches the client
with a code and a sentence naming what was wrong.
Their names differ from the SDK's (``teabox.client.errors``), which a client
catches for the same statuses: the tree is in :mod:`teabox.errors`.
"""

from __future__ import annotations

from teabox.errors import TeaboxError


class PlatformError(TeaboxError):
    """A refused request. ``status`` is the HTTP status that fits; ``code`` names the reason."""

    status = 400
    default_code = "invalid_request"

    def __init__(self, message: str, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.code = code or self.default_code
        # Set once the refusal has its audit entry, so that the service adds one only to those without.
        self.audited = False


class MalformedRequest(PlatformError):
    status, default_code = 400, "invalid_request"


class NotAuthenticated(PlatformError):
    status, default_code = 401, "unauthenticated"


class NotPermitted(PlatformError):
    status, default_code = 403, "forbidden"


class NoSuchObject(PlatformError):
    status, default_code = 404, "not_found"


class StateConflict(PlatformError):
    status, default_code = 409, "invalid_state"


class TooLarge(PlatformError):
    status, default_code = 413, "too_large"


class RetryLater(PlatformError):
    """Refused for now, not for good: the answer carries ``Retry-After: retry_after`` (seconds)."""

    def __init__(self, message: str, retry_after: int, code: str | None = None) -> None:
        super().__init__(message, code)
        self.retry_after = retry_after


class TooManyRequests(RetryLater):
    """Over a per-user or per-address rate or concurrency limit."""

    status, default_code = 429, "too_many_requests"


class Unavailable(RetryLater):
    """The whole service is at a capacity limit."""

    status, default_code = 503, "unavailable"


class InternalError(PlatformError):
    """A bug: an operation failed in a way it does not know as a refusal. Nothing of it was committed."""

    status, default_code = 500, "internal_error"


class Invalid(PlatformError):
    """Well-formed but unacceptable content: a bad payload, arguments, URL or key."""

    status, default_code = 422, "invalid_request"
