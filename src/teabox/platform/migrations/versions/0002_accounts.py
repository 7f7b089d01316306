"""accounts: deleted users kept as tombstones, password-reset tokens, fusion consent, file:// and payload ownership

Revision ID: 0002_accounts
Revises: 0001
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import unquote, urlsplit

import sqlalchemy as sa
from alembic import op

revision = "0002_accounts"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.add_column(sa.Column("deleted_at", sa.Float(), nullable=True))
        batch_op.add_column(sa.Column("reset_token_hash", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("reset_expires_at", sa.Float(), nullable=True))
        batch_op.add_column(sa.Column("must_change_password", sa.Boolean(), nullable=False, server_default="0"))
    with op.batch_alter_table("file_owners", schema=None) as batch_op:
        batch_op.add_column(sa.Column("consented", sa.Boolean(), nullable=False, server_default="1"))
    op.create_table(
        "local_paths",
        sa.Column("path", sa.Text(), nullable=False),
        sa.Column("user_id", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("path"),
    )
    op.create_table(
        "payload_uploads",
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("user_id", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("sha256", "user_id"),
    )
    _backfill()


def _backfill() -> None:
    """Claims for what existed before: otherwise the first user to register an old path after the upgrade
    would take it from the user who registered it first. A function's owner holds its payload."""
    bind = op.get_bind()
    claimed: set[str] = set()
    rows = bind.execute(
        sa.text(
            "SELECT f.url, MIN(o.user_id) AS user_id, MIN(f.created_at) AS created_at FROM files f"
            " JOIN file_owners o ON o.file_id = f.id WHERE f.url LIKE 'file:%'"
            " GROUP BY f.id, f.url ORDER BY MIN(f.created_at)"
        )
    )
    for url, user_id, created_at in rows:
        path = str(Path(unquote(urlsplit(url).path)).resolve())
        if path not in claimed:
            claimed.add(path)
            bind.execute(
                sa.text("INSERT INTO local_paths (path, user_id, created_at) VALUES (:path, :user, :at)"),
                {"path": path, "user": user_id, "at": created_at},
            )
    bind.execute(
        sa.text("INSERT INTO payload_uploads (sha256, user_id) SELECT DISTINCT payload_sha256, owner FROM functions")
    )


def downgrade() -> None:
    op.drop_table("payload_uploads")
    op.drop_table("local_paths")
    with op.batch_alter_table("file_owners", schema=None) as batch_op:
        batch_op.drop_column("consented")
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.drop_column("must_change_password")
        batch_op.drop_column("reset_expires_at")
        batch_op.drop_column("reset_token_hash")
        batch_op.drop_column("deleted_at")
