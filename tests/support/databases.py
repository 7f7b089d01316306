"""Which database the platform suites run on, and fresh migrated PostgreSQL databases for them.

``TEABOX_TEST_DATABASE=postgres`` runs the servers and platforms of the platform, worker and flow
suites on PostgreSQL (each server or platform on a database of its own, copied from a migrated
template in a fraction of a migration's time); unset or ``sqlite``, on the data directory's SQLite
file as a default install does. ``scripts/test`` runs those suites once each way.
"""

from __future__ import annotations

import os

from support.postgres import PostgresCluster
from teabox.platform.db import Database
from teabox.platform.file_keys import FileKeys

ENV_VAR = "TEABOX_TEST_DATABASE"
_CHOICES = ("sqlite", "postgres")
TEMPLATE = "teabox_migrated_template"


def chosen_database() -> str:
    """``sqlite`` or ``postgres``: what ``TEABOX_TEST_DATABASE`` asks for."""
    chosen = os.environ.get(ENV_VAR, "sqlite") or "sqlite"
    if chosen not in _CHOICES:
        raise RuntimeError(f"{ENV_VAR} must be one of {', '.join(_CHOICES)}, not {chosen!r}")
    return chosen


def migrated_template(cluster: PostgresCluster) -> str:
    """The name of a database at the newest schema, to copy with ``CREATE DATABASE … TEMPLATE`` (made once)."""
    if not cluster.sql(f"SELECT 1 FROM pg_database WHERE datname = '{TEMPLATE}'").strip():
        cluster.sql(f"CREATE DATABASE {TEMPLATE}")
        database = Database(cluster.url(TEMPLATE))
        try:
            # No file is registered in an empty database, so the platform key is never used here.
            database.migrate(FileKeys(os.urandom(32), "the test template"))
        finally:
            database.dispose()  # a template must have no open connections when it is copied
    return TEMPLATE
