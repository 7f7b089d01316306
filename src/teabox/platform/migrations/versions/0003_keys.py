"""file keys sealed under the platform key

Revision ID: 0003_keys
Revises: 0001

Replaces the plaintext ``key`` and ``iv`` columns of ``files`` with
``sealed_key`` (see teabox.platform.file_keys). Both directions need the
platform key, which ``teabox admin migrate`` (and every start) passes in.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import context, op

from teabox.platform.file_keys import FileKeys

revision = "0003_keys"
down_revision = "0002_accounts"
branch_labels = None
depends_on = None

_files = sa.table(
    "files",
    sa.column("id", sa.String()),
    sa.column("key", sa.LargeBinary()),
    sa.column("iv", sa.LargeBinary()),
    sa.column("sealed_key", sa.LargeBinary()),
)


def _file_keys() -> FileKeys:
    keys = context.config.attributes.get("file_keys")
    if not isinstance(keys, FileKeys):
        raise RuntimeError("this migration seals file keys with the platform key: run it with `teabox admin migrate`")
    return keys


def upgrade() -> None:
    keys = _file_keys()
    with op.batch_alter_table("files") as batch_op:
        batch_op.add_column(sa.Column("sealed_key", sa.LargeBinary(), nullable=True))
    connection = op.get_bind()
    for file_id, key, iv in connection.execute(sa.select(_files.c.id, _files.c.key, _files.c.iv)).all():
        sealed = keys.seal(file_id, bytes(key), bytes(iv))
        connection.execute(sa.update(_files).where(_files.c.id == file_id).values(sealed_key=sealed))
    with op.batch_alter_table("files") as batch_op:
        batch_op.alter_column("sealed_key", existing_type=sa.LargeBinary(), nullable=False)
        batch_op.drop_column("key")
        batch_op.drop_column("iv")


def downgrade() -> None:
    keys = _file_keys()
    with op.batch_alter_table("files") as batch_op:
        batch_op.add_column(sa.Column("key", sa.LargeBinary(), nullable=True))
        batch_op.add_column(sa.Column("iv", sa.LargeBinary(), nullable=True))
    connection = op.get_bind()
    for file_id, sealed in connection.execute(sa.select(_files.c.id, _files.c.sealed_key)).all():
        key, iv = keys.open(file_id, sealed)
        connection.execute(sa.update(_files).where(_files.c.id == file_id).values(key=key, iv=iv))
    with op.batch_alter_table("files") as batch_op:
        batch_op.alter_column("key", existing_type=sa.LargeBinary(), nullable=False)
        batch_op.alter_column("iv", existing_type=sa.LargeBinary(), nullable=False)
        batch_op.drop_column("sealed_key")
