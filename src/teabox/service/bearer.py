"""The token of an ``Authorization: Bearer <token>`` header."""

from __future__ import annotations

from starlette.requests import HTTPConnection


def authorization_header(request: HTTPConnection) -> str | None:
    """The Authorization header as sent, read from the request by every endpoint.

    Not a ``Header()`` parameter: that would cost every call FastAPI's parameter validation, and the
    description declares the token as a security scheme instead (see :mod:`teabox.service.openapi`).
    """
    return request.headers.get("authorization")


def bearer(authorization: str | None) -> str | None:
    if authorization is None:
        return None
    scheme, _, token = authorization.partition(" ")
    return token.strip() if scheme.lower() == "bearer" else None
