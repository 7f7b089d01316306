"""fair queue: per-user claim order and caps

Revision ID: 0005_fair_queue
Revises: 0004_output_writes
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005_fair_queue"
down_revision = "0004_output_writes"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "queue_turns",
        sa.Column("user_id", sa.String(length=64), nullable=False),
        sa.Column("served_at", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("user_id"),
    )
    with op.batch_alter_table("tasks") as batch_op:
        batch_op.create_index("ix_tasks_status_creator_staged_at", ["status", "creator", "staged_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("tasks") as batch_op:
        batch_op.drop_index("ix_tasks_status_creator_staged_at")
    op.drop_table("queue_turns")
