"""Upgrading a data directory keeps what was owned owned: a file:// path and a payload registered before
the accounts migration stay their first user's, so a newcomer cannot claim them after the upgrade."""

from __future__ import annotations

import time
from pathlib import Path

import sqlalchemy as sa
from alembic import command
from support.authz import reading_payload, refused
from support.platform_api import login

from teabox.client.errors import Forbidden
from teabox.platform.auth import hash_password
from teabox.platform.blobs import LocalBlobStore
from teabox.platform.db import Database, alembic_config
from teabox.testing.local_server import LocalServer

OLD_PASSWORD = "registered before the upgrade"


def _old_data_dir(data_dir: Path, files_dir: Path, payload_id: str) -> None:
    """A data directory at the first schema holding a file:// input and a function, as an old release left it."""
    database = Database.for_data_dir(data_dir)
    now, password_hash = time.time(), hash_password(OLD_PASSWORD)
    with database.engine.begin() as connection:
        config = alembic_config(database.url)
        config.attributes["connection"] = connection
        command.upgrade(config, "0001")
        for user_id, role, attribute in (("old-data", "DataOwner", "up"), ("old-fo", "FunctionOwner", "")):
            connection.execute(
                sa.text("INSERT INTO users VALUES (:id, :role, :attribute, :hash, :now, :now)"),
                {"id": user_id, "role": role, "attribute": attribute, "hash": password_hash, "now": now},
            )
        connection.execute(
            sa.text("INSERT INTO files VALUES ('input-old', 'input', :url, 'raw', x'', x'', NULL, 0, :now)"),
            {"url": f"file://{files_dir}/ledger.bin", "now": now},
        )
        connection.execute(sa.text("INSERT INTO file_owners VALUES ('input-old', 'old-data')"))
        connection.execute(
            sa.text(
                "INSERT INTO functions VALUES ('function-old', 'f', '', 'old-fo', 'wasm', 0, 0, 0, :sha, 1,"
                " '[]', '[]', '[]', NULL, 0, '{}', :now, :now)"
            ),
            {"sha": payload_id, "now": now},
        )
    database.dispose()


def test_the_upgrade_keeps_paths_and_payloads_with_their_first_user(tmp_path: Path) -> None:
    data_dir, files_dir = tmp_path / "data", tmp_path / "files"
    data_dir.mkdir(mode=0o700)
    files_dir.mkdir()
    payload_id, _ = LocalBlobStore(data_dir / "blobs").put(reading_payload())
    _old_data_dir(data_dir, files_dir, payload_id)
    with LocalServer(data_dir, workers=0, extra_args=("--allow-file-dir", str(files_dir))) as server:
        _attack_after_upgrade(server, files_dir, payload_id)


def _attack_after_upgrade(server: LocalServer, files_dir: Path, payload_id: str) -> None:
    with login(server, server.admin_id, server.admin_password) as admin:
        admin.user_register("newcomer-data", "newcomer password", "DataOwner", "up")
        admin.user_register("newcomer-fo", "newcomer password", "FunctionOwner")
    with login(server, "newcomer-data", "newcomer password") as newcomer:
        with refused(Forbidden, "path_taken"):
            newcomer.register_input_file(f"file://{files_dir}/ledger.bin", "raw", b"", b"", None)
    with login(server, "old-data", OLD_PASSWORD) as first:
        first.register_input_file(f"file://{files_dir}/ledger.bin", "raw", b"", b"", None)
    with login(server, "newcomer-fo", "newcomer password") as newcomer:
        with refused(Forbidden, "payload_not_yours"):
            newcomer.register_function("steal", "", "wamr", True, payload_id=payload_id)
    with login(server, "old-fo", OLD_PASSWORD) as first:
        assert first.register_function("again", "", "wamr", True, payload_id=payload_id)
