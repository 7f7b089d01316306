"""worker tokens: credentials of workers on other machines, stored as hashes

Revision ID: 0008_worker_tokens
Revises: 0007_wide_types
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008_worker_tokens"
down_revision = "0007_wide_types"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "worker_tokens",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.Float(), nullable=False),
        sa.Column("revoked_at", sa.Float(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("token_hash"),
    )


def downgrade() -> None:
    op.drop_table("worker_tokens")
