"""The audit log: who did what to which object, with what outcome, and when.

Every call to the service leaves one entry, refused and failed calls too: the
platform records the operations it runs, the service the calls it refuses
before an operation runs (no or a bad token, a malformed body, a limit).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, insert, or_, select
from sqlalchemy.orm import Session

from teabox.platform.context import Ctx, operation
from teabox.platform.errors import Invalid
from teabox.platform.models import AuditEntry
from teabox.platform.timefmt import iso

Entry = tuple[str | None, str, str | None, str, str]  # user id, action, object id, outcome, message


def record(
    session: Session | Connection,
    now: float,
    user_id: str | None,
    action: str,
    object_id: str | None,
    outcome: str,
    message: str,
) -> None:
    """Add an entry to ``session``'s transaction: it commits with the change it records, or not at all."""
    record_all(session, now, [(user_id, action, object_id, outcome, message)])


def record_all(session: Session | Connection, now: float, entries: list[Entry]) -> None:
    """Add ``entries`` to ``session``'s transaction in one statement."""
    # A Core insert on the session's connection: every call writes one, and the ORM would double its cost.
    connection = session.connection() if isinstance(session, Session) else session
    connection.execute(
        _INSERT,
        [
            {
                "timestamp": now,
                "user_id": _text(user_id, 256),
                "action": _text(action, 256),
                "object_id": _text(object_id, 2000),
                "outcome": _text(outcome, 256),
                "message": _text(message, 2000),
            }
            for user_id, action, object_id, outcome, message in entries
        ],
    )


def _text(value: str | None, limit: int) -> str | None:
    """``value`` cut to ``limit`` characters and storable whatever a client sent.

    Lone surrogates are escaped, and NUL characters (which PostgreSQL's text cannot hold, and which
    a refusal may quote from the request it refuses) written as ``\\x00``: the entry is kept either way.
    """
    if value is None:
        return None
    value = value[:limit].replace("\x00", "\\x00")
    return value if value.isascii() else value.encode("utf-8", "backslashreplace").decode("utf-8")


DEFAULT_AUDIT_LIMIT = 100  # entries a query returns when it names no limit

_INSERT = insert(AuditEntry.__table__)
_SEARCHED = (AuditEntry.action, AuditEntry.object_id, AuditEntry.message)


@operation("query_audit_logs", readonly=True)  # a scan of the log: never under the write lock
def query_audit_logs(
    ctx: Ctx,
    *,
    message: str = "",
    limit: int = DEFAULT_AUDIT_LIMIT,
    user_id: str | None = None,
    action: str | None = None,
) -> dict[str, Any]:
    if not 1 <= limit <= 10000:
        raise Invalid("limit must be between 1 and 10000", "invalid_limit")
    query = select(AuditEntry).order_by(AuditEntry.id.desc()).limit(limit)
    if message:
        # Case-insensitive on every database (LIKE is on SQLite, not on PostgreSQL); % and _ match themselves.
        pattern = "%" + message.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        query = query.where(
            or_(*(column.ilike(pattern, escape="\\") for column in _SEARCHED)),
        )
    if user_id is not None:
        query = query.where(AuditEntry.user_id == user_id)
    if action is not None:
        query = query.where(AuditEntry.action == action)
    entries = ctx.session.scalars(query).all()
    return {
        "logs": [
            {
                "id": entry.id,
                "timestamp": iso(entry.timestamp),
                "user_id": entry.user_id,
                "action": entry.action,
                "object_id": entry.object_id,
                "outcome": entry.outcome,
                "message": entry.message,
            }
            for entry in entries
        ]
    }
