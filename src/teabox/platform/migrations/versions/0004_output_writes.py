"""outputs remember the task whose write began, and the record that replaced them

Revision ID: 0004_output_writes
Revises: 0003_keys
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004_output_writes"
down_revision = "0003_keys"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("files") as batch_op:
        batch_op.add_column(sa.Column("write_task", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("replaced_by", sa.String(length=64), nullable=True))
    # Before this revision nothing recorded when a write began: an output bound to a task that a
    # worker ever claimed may have been encrypted (and seen at its URL), so it counts as begun.
    op.execute(
        "UPDATE files SET write_task = (SELECT min(task_data.task_id) FROM task_data "
        "JOIN tasks ON tasks.id = task_data.task_id "
        "WHERE task_data.file_id = files.id AND task_data.direction = 'output' AND tasks.attempt > 0) "
        "WHERE kind = 'output'"
    )


def downgrade() -> None:
    with op.batch_alter_table("files") as batch_op:
        batch_op.drop_column("replaced_by")
        batch_op.drop_column("write_task")
