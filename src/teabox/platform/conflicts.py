"""A write that lost a race for a unique key: a refusal to retry, not a bug.

SQLite's single writer runs an operation's "does it exist yet?" check and its
insert with no one in between, so the check answers. On PostgreSQL two
transactions can both pass the check; the unique index then stops the second
insert, which arrives here as an ``IntegrityError``. The platform answers it
as a 409 naming what happened, with nothing of the operation committed.
"""

from __future__ import annotations

from sqlalchemy.exc import IntegrityError

from teabox.platform.errors import StateConflict

# PostgreSQL's SQLSTATE for unique_violation; SQLite's extended result codes for the same.
_PG_UNIQUE_VIOLATION = "23505"
_SQLITE_DUPLICATES = frozenset({"SQLITE_CONSTRAINT_PRIMARYKEY", "SQLITE_CONSTRAINT_UNIQUE"})


def is_duplicate_key(exc: BaseException) -> bool:
    """Whether ``exc`` is an insert refused by a primary-key or unique index."""
    if not isinstance(exc, IntegrityError):
        return False
    cause = exc.orig
    return (
        getattr(cause, "sqlstate", None) == _PG_UNIQUE_VIOLATION
        or getattr(cause, "sqlite_errorname", None) in _SQLITE_DUPLICATES
    )


def lost_race(operation: str) -> StateConflict:
    return StateConflict(
        f"{operation} collided with a simultaneous request creating the same object; nothing was changed: "
        "look at the current state and try again if it still applies",
        "concurrent_change",
    )
