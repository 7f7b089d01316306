"""SQL constructs that SQLite and PostgreSQL spell differently, so that the queue's statements are built once.

The claim returns a task's file bindings inside its own ``UPDATE ... RETURNING``
(one round trip instead of a second query), as a JSON array of arrays with
binary columns in hex: :class:`json_rows` aggregates the rows and
:class:`hex_text` encodes the bytes; :class:`qualified` keeps such a
subquery's column names whole in SQLite's RETURNING.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import JSON, String
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.sql.functions import FunctionElement
from sqlalchemy.sql.visitors import InternalTraversal, _TraverseInternalsType


class json_rows(FunctionElement[Any]):  # lower case: it reads as the SQL aggregate it stands for
    """An aggregate: one JSON array per row of its arguments, all in one JSON array (NULL or [] for no rows)."""

    type = JSON()
    inherit_cache = True
    name = "json_rows"


class hex_text(FunctionElement[str]):  # lower case: it reads as the SQL function it stands for
    """Bytes as lower- or upper-case hex text; NULL (PostgreSQL) or '' (SQLite) for NULL."""

    type = String()
    inherit_cache = True
    name = "hex_text"


@compiles(json_rows)
def _sqlite_json_rows(element: json_rows, compiler: SQLCompiler, **kw: Any) -> str:
    return f"json_group_array(json_array({compiler.process(element.clauses, **kw)}))"


@compiles(json_rows, "postgresql")
def _postgresql_json_rows(element: json_rows, compiler: SQLCompiler, **kw: Any) -> str:
    return f"json_agg(json_build_array({compiler.process(element.clauses, **kw)}))"


@compiles(hex_text)
def _sqlite_hex(element: hex_text, compiler: SQLCompiler, **kw: Any) -> str:
    return f"hex({compiler.process(element.clauses, **kw)})"


@compiles(hex_text, "postgresql")
def _postgresql_hex(element: hex_text, compiler: SQLCompiler, **kw: Any) -> str:
    return f"encode({compiler.process(element.clauses, **kw)}, 'hex')"


class qualified(ColumnElement[Any]):  # lower case: it reads as a function of the expression it wraps
    """``expression`` with its columns named with their tables, even in SQLite's RETURNING clause.

    SQLAlchemy writes SQLite's RETURNING columns without their table, and
    passes that down into subqueries there, where ``task_id = id`` would then
    compare a column with itself.
    """

    inherit_cache = True
    # What its cache key is made of (without it SQLAlchemy would compile every statement using it anew);
    # SQLAlchemy declares the attribute on instances, so it cannot be a ClassVar here.
    _traverse_internals: _TraverseInternalsType = [("wrapped", InternalTraversal.dp_clauseelement)]  # noqa: RUF012

    def __init__(self, expression: ColumnElement[Any]) -> None:
        self.wrapped = expression
        self.type = expression.type

    @property
    def _from_objects(self) -> list[Any]:
        return self.wrapped._from_objects


@compiles(qualified)
def _qualified(element: qualified, compiler: SQLCompiler, **kw: Any) -> str:
    kw.pop("include_table", None)
    return compiler.process(element.wrapped, **kw)
