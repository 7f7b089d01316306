"""Worker tokens: what a worker on another machine shows instead of the platform's secrets.

A remote worker holds no database URL, platform key or store credentials; it
holds one of these. The operator issues them on the machine (``teabox admin
worker-token create``); the token is shown once and only its sha256 is kept,
so a copy of the database yields none. A token is accepted only by the worker
endpoints (:mod:`teabox.service.worker_api`), never as a user's login: it lives
in its own table, which the users' bearer check never reads. Revocation takes
effect on the next request.
"""

from __future__ import annotations

import re
import secrets
import time
from dataclasses import dataclass

from sqlalchemy import bindparam, select

from teabox.platform.auth import token_hash
from teabox.platform.db import Database
from teabox.platform.errors import Invalid, NoSuchObject, NotAuthenticated
from teabox.platform.models import WorkerToken

# Recognisable as a worker token in a file or a log line.
TOKEN_PREFIX = "teabox-worker-"
_NAME = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
_LIVE = select(WorkerToken.id, WorkerToken.name, WorkerToken.created_at, WorkerToken.revoked_at).where(
    WorkerToken.token_hash == bindparam("hashed"), WorkerToken.revoked_at.is_(None)
)


@dataclass(frozen=True)
class WorkerTokenInfo:
    """What the operator sees of a token: never the token itself."""

    id: str
    name: str
    created_at: float
    revoked_at: float | None


def check_name(name: str) -> str:
    if not _NAME.match(name):
        raise Invalid(
            f"'{name}' is not a usable worker token name: use 1-64 letters, digits, '.', '_' or '-'", "invalid_name"
        )
    return name


def issue(database: Database, name: str) -> tuple[WorkerTokenInfo, str]:
    """A new token for the worker(s) called ``name``; the token itself is returned once, here only."""
    check_name(name)
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    row = WorkerToken(id=f"wt-{secrets.token_hex(6)}", name=name, token_hash=token_hash(token), created_at=time.time())
    with database.write() as session:
        session.add(row)
    return _info(row), token


def listed(database: Database) -> list[WorkerTokenInfo]:
    with database.read() as session:
        return [_info(row) for row in session.scalars(select(WorkerToken).order_by(WorkerToken.created_at))]


def revoke(database: Database, token_id: str) -> WorkerTokenInfo:
    """Revoke a token by id (once; revoking it again changes nothing)."""
    with database.write() as session:
        row = session.get(WorkerToken, token_id)
        if row is None:
            raise NoSuchObject(f"there is no worker token '{token_id}'", "unknown_worker_token")
        if row.revoked_at is None:
            row.revoked_at = time.time()
        return _info(row)


def authenticate(database: Database, token: str | None) -> WorkerTokenInfo:
    """The live worker token ``token``; raises NotAuthenticated otherwise (no token, unknown, revoked)."""
    if not token:
        raise NotAuthenticated("worker calls need a worker token: send 'Authorization: Bearer <worker token>'")
    with database.reading() as connection:
        row = connection.execute(_LIVE, {"hashed": token_hash(token)}).first()
    if row is None:
        raise NotAuthenticated("the worker token is unknown or revoked", "invalid_worker_token")
    return WorkerTokenInfo(row.id, row.name, row.created_at, row.revoked_at)


def _info(row: WorkerToken) -> WorkerTokenInfo:
    return WorkerTokenInfo(row.id, row.name, row.created_at, row.revoked_at)
