"""wide types: text columns without a length limit, 64-bit sizes, counts and audit ids

PostgreSQL enforces what SQLite only records: ``VARCHAR(n)`` lengths and 32-bit ``INTEGER``.
An audit entry's object id is a URL (a legal 250-character hosted file name makes one of about
300 characters), its user id whatever a refused caller sent; a hosted file, a payload, a quota
can pass 2**31. SQLite stores any length and 64-bit integers in these columns already, so only
PostgreSQL's are changed (``VARCHAR`` to ``TEXT`` rewrites nothing there).

Revision ID: 0007_wide_types
Revises: 0006_withdrawals
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007_wide_types"
down_revision = "0006_withdrawals"
branch_labels = None
depends_on = None

_TEXT = {
    "audit_log": ("user_id", "action", "object_id", "outcome"),
    "tasks": ("worker_id", "failure_kind"),
    "functions": ("name",),
    "hosted_files": ("name",),
}
_BIG = {
    "audit_log": ("id",),
    "hosted_files": ("size",),
    "functions": ("payload_size", "usage_quota", "usage_count"),
}
_NARROW_TEXT = {
    ("audit_log", "user_id"): 64,
    ("audit_log", "action"): 64,
    ("audit_log", "object_id"): 255,
    ("audit_log", "outcome"): 64,
    ("tasks", "worker_id"): 128,
    ("tasks", "failure_kind"): 32,
    ("functions", "name"): 255,
    ("hosted_files", "name"): 255,
}


def _on_postgres() -> bool:
    return bool(op.get_bind().dialect.name == "postgresql")


def upgrade() -> None:
    if not _on_postgres():
        return
    for table, columns in _TEXT.items():
        for column in columns:
            op.alter_column(table, column, type_=sa.Text())
    for table, columns in _BIG.items():
        for column in columns:
            op.alter_column(table, column, type_=sa.BigInteger())
    # The sequence behind audit_log.id was created AS integer; it would stop at 2**31 - 1 whatever the column.
    op.execute("ALTER SEQUENCE IF EXISTS audit_log_id_seq AS bigint")


def downgrade() -> None:
    if not _on_postgres():
        return
    op.execute("ALTER SEQUENCE IF EXISTS audit_log_id_seq AS integer")
    for table, columns in _BIG.items():
        for column in columns:
            op.alter_column(table, column, type_=sa.Integer())
    for (table, column), length in _NARROW_TEXT.items():
        op.alter_column(table, column, type_=sa.String(length=length))
