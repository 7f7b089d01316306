"""withdrawals: when what a task's dead attempts published was taken back

Revision ID: 0006_withdrawals
Revises: 0005_fair_queue
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006_withdrawals"
down_revision = "0005_fair_queue"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("tasks") as batch_op:
        batch_op.add_column(sa.Column("outputs_withdrawn_at", sa.Float(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("tasks") as batch_op:
        batch_op.drop_column("outputs_withdrawn_at")
