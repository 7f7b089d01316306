"""The database's clock as seconds since the epoch, in SQL: what leases are stamped and judged with.

Workers and API servers on several machines disagree about the time; the
database they share is one clock. A lease stamped as "the database's now plus
the lease" and compared with "the database's now" cannot be ended early (or
kept alive late) by a machine whose clock is wrong. On SQLite every process
is on one machine, whose clock this is.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Float
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.functions import FunctionElement


class database_now(FunctionElement[float]):  # lower case: it reads as the SQL function it stands for
    """The current time on the database server, in seconds since the epoch (a float)."""

    type = Float()
    inherit_cache = True
    name = "database_now"


@compiles(database_now)
def _sqlite_now(element: database_now, compiler: SQLCompiler, **kw: Any) -> str:
    # julianday('now') is stable within one statement; SQLite 3.40 has no unixepoch('subsec') yet.
    return "((julianday('now') - 2440587.5) * 86400.0)"


@compiles(database_now, "postgresql")
def _postgresql_now(element: database_now, compiler: SQLCompiler, **kw: Any) -> str:
    # The statement's start, not the transaction's: a lease is stamped when its statement runs.
    return "CAST(EXTRACT(EPOCH FROM statement_timestamp()) AS DOUBLE PRECISION)"
