"""Who is signed in to the console, and proof that a form was sent by the console's own pages.

The session cookie carries the platform token itself (HttpOnly, so page
scripts never see it, and ``SameSite=Strict``, so other sites' pages do not
send it). Every state-changing request must also carry a CSRF token: an HMAC
of the session token, which a page of another origin cannot compute because it
cannot read the cookie. Nothing is kept server-side, so any API server of a
deployment accepts any session, and signing out (which revokes the token) ends
the session everywhere.
"""

from __future__ import annotations

import hashlib
import hmac

from fastapi import Request
from fastapi.responses import Response

from teabox.platform.errors import NotPermitted

COOKIE = "teabox_session"
CSRF_FIELD = "csrf"
CSRF_HEADER = "x-csrf-token"
_CSRF_CONTEXT = b"teabox console csrf v1"


def session_token(request: Request) -> str | None:
    return request.cookies.get(COOKIE) or None


def csrf_token(session: str) -> str:
    return hmac.new(session.encode(), _CSRF_CONTEXT, hashlib.sha256).hexdigest()


def check_csrf(session: str, given: str | None) -> None:
    """Refuse a state-changing request whose CSRF token does not belong to this session."""
    if not given or not hmac.compare_digest(csrf_token(session), given):
        raise NotPermitted("this form is stale or did not come from the console; reload the page and try again", "csrf")


def start_session(request: Request, response: Response, token: str, max_age: int) -> None:
    response.set_cookie(
        COOKIE,
        token,
        max_age=max_age,
        path="/console",
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
    )


def end_session(response: Response) -> None:
    response.delete_cookie(COOKIE, path="/console", httponly=True, samesite="strict")
