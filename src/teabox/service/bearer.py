"""The token of an ``Authorization: Bearer <token>`` header."""

from __future__ import annotations


def bearer(authorization: str | None) -> str | None:
    if authorization is None:
        return None
    scheme, _, token = authorization.partition(" ")
    return token.strip() if scheme.lower() == "bearer" else None
