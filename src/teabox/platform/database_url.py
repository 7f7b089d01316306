"""Which database a process uses: ``--database URL`` (``TEABOX_DATABASE_URL``), else the data directory's SQLite file.

Operators write the URLs PostgreSQL's own tools take (``postgresql://user@host/db``); SQLAlchemy
would read those as the psycopg2 driver, which teabox does not ship, so they are mapped to
psycopg 3 here. A PostgreSQL URL without the driver installed is refused with the install
command, before anything is opened.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from teabox.errors import TeaboxError

DB_FILE = "teabox.db"
POSTGRES_DRIVER = "postgresql+psycopg"
_POSTGRES_SCHEMES = ("postgresql", "postgres", POSTGRES_DRIVER)
INSTALL_POSTGRES = "run pip install '.[postgres]' in a clone of the teabox repository"


class DatabaseUrlError(TeaboxError):
    """A ``--database`` URL teabox cannot use, or one whose driver is not installed."""


def sqlite_url(data_dir: Path) -> str:
    return f"sqlite:///{Path(data_dir).resolve() / DB_FILE}"


def resolve_database_url(url: str | None, data_dir: Path) -> str:
    """The SQLAlchemy URL for ``url`` (None or empty: the SQLite file in ``data_dir``)."""
    if not url:
        return sqlite_url(data_dir)
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise DatabaseUrlError(
            f"--database must be a URL such as postgresql://user@host:5432/teabox or sqlite:///path, not {url!r}"
        ) from None
    if parsed.drivername in _POSTGRES_SCHEMES:
        if importlib.util.find_spec("psycopg") is None:
            raise DatabaseUrlError(f"a PostgreSQL database needs the psycopg driver: {INSTALL_POSTGRES}")
        return parsed.set(drivername=POSTGRES_DRIVER).render_as_string(hide_password=False)
    if parsed.drivername == "sqlite":
        return url
    raise DatabaseUrlError(
        f"--database names an unsupported database ({parsed.drivername}): "
        "use postgresql://user@host:5432/teabox (or sqlite:///path)"
    )
