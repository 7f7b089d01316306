"""Alembic environment: runs on the connection the caller passes, or opens one from the URL."""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine

from teabox.platform.models import Base

config = context.config
connection = config.attributes.get("connection")
if connection is not None:
    context.configure(connection=connection, target_metadata=Base.metadata, render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()
else:
    url = config.get_main_option("sqlalchemy.url")
    if url is None:
        raise RuntimeError("the Alembic configuration names no database: set sqlalchemy.url or pass a connection")
    engine = create_engine(url)
    with engine.begin() as opened:
        context.configure(connection=opened, target_metadata=Base.metadata, render_as_batch=True)
        with context.begin_transaction():
            context.run_migrations()
