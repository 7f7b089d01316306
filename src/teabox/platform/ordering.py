"""Orderings that are the same on every database: text compared by code point, as Python's ``sorted`` does.

PostgreSQL orders text by the database's collation (``en_US.UTF-8`` puts ``b`` before ``B-2``
before ``b1`` ignoring case and punctuation at first; ``C`` compares bytes), SQLite by bytes.
Lists would then come back in a different order from each, and differ from the lists teabox
sorts in Python. ``codepoint(column)`` orders by UTF-8 bytes, which is code-point order,
on both.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.sql.visitors import InternalTraversal


class codepoint(ColumnElement[str]):
    """``column`` for ORDER BY, compared by code point whatever the database's collation."""

    inherit_cache = True
    _traverse_internals = [("column", InternalTraversal.dp_clauseelement)]  # noqa: RUF012 - SQLAlchemy's protocol

    def __init__(self, column: ColumnElement[str] | Any) -> None:
        self.column = column
        self.type = column.type


@compiles(codepoint)
def _bytes_order(element: codepoint, compiler: SQLCompiler, **kw: Any) -> str:
    return str(compiler.process(element.column, **kw))  # SQLite's default collation, BINARY, compares bytes


@compiles(codepoint, "postgresql")
def _c_collation(element: codepoint, compiler: SQLCompiler, **kw: Any) -> str:
    return f'{compiler.process(element.column, **kw)} COLLATE "C"'
