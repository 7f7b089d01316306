"""A write that lost a race to another transaction: a refusal to retry, not a bug.

SQLite's single writer runs an operation's "does it exist yet?" check and its
insert with no one in between, so the check answers. On PostgreSQL two
transactions can both pass the check; the unique index then stops the second
insert, which arrives here as an ``IntegrityError``. Two transactions that lock
the same rows in opposite orders (two assignments naming the same outputs in
different orders) meet in a deadlock, which PostgreSQL ends by aborting one.
The platform answers either as a 409 naming what happened, with nothing of the
operation committed.
"""

from __future__ import annotations

from sqlalchemy.exc import DBAPIError, IntegrityError

from teabox.platform.errors import StateConflict

# PostgreSQL's SQLSTATEs for unique_violation, deadlock_detected and serialization_failure;
# SQLite's extended result codes for a unique violation.
_PG_LOST_RACE = frozenset({"23505", "40P01", "40001"})
_SQLITE_DUPLICATES = frozenset({"SQLITE_CONSTRAINT_PRIMARYKEY", "SQLITE_CONSTRAINT_UNIQUE"})


def is_lost_race(exc: BaseException) -> bool:
    """Whether ``exc`` is a duplicate key, or the transaction PostgreSQL aborted to end a deadlock."""
    if not isinstance(exc, DBAPIError):
        return False
    cause = exc.orig
    if getattr(cause, "sqlstate", None) in _PG_LOST_RACE:
        return True
    return isinstance(exc, IntegrityError) and getattr(cause, "sqlite_errorname", None) in _SQLITE_DUPLICATES


def lost_race(operation: str) -> StateConflict:
    return StateConflict(
        f"{operation} collided with a simultaneous request changing the same objects; nothing was changed: "
        "look at the current state and try again if it still applies",
        "concurrent_change",
    )
