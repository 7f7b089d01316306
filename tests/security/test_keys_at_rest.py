"""Keys at rest: the data directory is the operator's alone, and the database alone reveals no file key.

Reproduces finding 7: a data directory created under a permissive umask left
the database (every file's key and IV), its WAL and the blobs readable by
every local account, and the keys were stored in the clear.
"""

from __future__ import annotations

import os
import sqlite3
import stat
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from alembic import command

from teabox.client import Client
from teabox.platform.db import Database, alembic_config
from teabox.platform.file_keys import ENV_VAR, KEY_FILE, FileKeys, PlatformKeyError
from teabox.platform.private_files import DataDirExposed
from teabox.platform.storage import Storage
from teabox.testing.local_server import LocalServer, teabox_command

# Its tests share module-scoped servers: one pytest-xdist process runs them all, so each starts once.
pytestmark = pytest.mark.xdist_group("keys_at_rest")

KEY = bytes(range(1, 17))
IV = bytes(range(101, 113))
CMAC = b"\x42" * 16
PLAINTEXT_MARK = b"no-one-else-may-read-this-upload"


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.lstat().st_mode)


@pytest.fixture(scope="module")
def open_umask_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalServer]:
    """A server started with umask 000, the most permissive there is, in a data directory it creates itself."""
    data_dir = tmp_path_factory.mktemp("keys") / "data"
    previous = os.umask(0)
    try:
        server = LocalServer(data_dir, workers=1)
        server.start()
    finally:
        os.umask(previous)
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def registered(open_umask_server: LocalServer, tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """An uploaded file (a blob) and an input registered with KEY and IV, through the HTTP API."""
    with Client(open_umask_server.url) as admin:
        admin.user_login(open_umask_server.admin_id, open_umask_server.admin_password)
        admin.user_register("keys-owner", "keys-owner-pw", "DataOwner", "keys")
    with Client(open_umask_server.url) as owner:
        owner.user_login("keys-owner", "keys-owner-pw")
        source = tmp_path_factory.mktemp("upload") / "mark.bin"
        source.write_bytes(PLAINTEXT_MARK)
        hosted = owner.upload_file(source)
        data_id = owner.register_input_file(hosted.url, "aes-gcm-128", KEY, IV, CMAC)
    return {"data_id": data_id, "url": hosted.url}


def test_everything_in_the_data_directory_is_private_whatever_the_umask(
    open_umask_server: LocalServer, registered: dict[str, str]
) -> None:
    data_dir = open_umask_server.data_dir
    database = data_dir / "teabox.db"
    assert (data_dir / "teabox.db-wal").exists(), "the database runs in WAL mode: its WAL must be checked too"
    checked = []
    for path in [data_dir, *data_dir.rglob("*")]:
        if path == open_umask_server.log_path or stat.S_ISSOCK(path.lstat().st_mode):
            continue  # the test harness's own log; wake-up sockets (inside the 0700 wake/ directory)
        expected = 0o700 if path.is_dir() else 0o600
        assert _mode(path) == expected, f"{path.relative_to(data_dir)} has mode {_mode(path):04o}"
        checked.append(path.name)
    assert {"teabox.db", "teabox.db-wal", "teabox.db-shm", KEY_FILE, "blobs"} <= set(checked)
    assert any(len(name) == 64 for name in checked), "the uploaded blob is among the files checked"
    assert database.stat().st_size > 0


def test_a_copy_of_the_database_reveals_no_key(
    open_umask_server: LocalServer, registered: dict[str, str], tmp_path: Path
) -> None:
    data_dir = open_umask_server.data_dir
    for name in ("teabox.db", "teabox.db-wal"):
        content = (data_dir / name).read_bytes()
        assert KEY not in content and IV not in content, f"{name} holds the key or IV in the clear"
    # What a thief with the database files (but not the platform key) can read: the sealed value only.
    copy = tmp_path / "stolen.db"
    with sqlite3.connect(data_dir / "teabox.db") as source, sqlite3.connect(copy) as target:
        source.backup(target)
    with sqlite3.connect(copy) as stolen:
        columns = {row[1] for row in stolen.execute("PRAGMA table_info(files)")}
        (sealed,) = stolen.execute("SELECT sealed_key FROM files WHERE id = ?", (registered["data_id"],)).fetchone()
    assert not {"key", "iv"} & columns
    assert KEY not in sealed and IV not in sealed
    # The platform key (kept apart from the database) opens it, and only for its own row.
    keys = FileKeys.load(data_dir)
    assert keys.open(registered["data_id"], sealed) == (KEY, IV)
    with pytest.raises(PlatformKeyError):
        keys.open("input-someone-else", sealed)
    with pytest.raises(PlatformKeyError):
        FileKeys(os.urandom(32), "a guess").open(registered["data_id"], sealed)


@pytest.mark.parametrize(
    ("words", "options"),
    [(("serve",), ("--port", "0", "--workers", "0")), (("worker",), ("--workers", "1")), (("admin", "migrate"), ())],
    ids=["serve", "worker", "admin"],
)
def test_a_data_directory_others_can_read_is_refused_with_the_fix(
    words: tuple[str, ...], options: tuple[str, ...], tmp_path: Path
) -> None:
    data_dir = tmp_path / "data"
    Storage.open(data_dir).close()
    os.chmod(data_dir, 0o755)
    command_line = teabox_command(*words, "--data-dir", str(data_dir), *options)
    done = subprocess.run(command_line, capture_output=True, text=True, timeout=120)
    assert done.returncode != 0
    message = done.stderr.strip()
    assert "\n" not in message and "Traceback" not in message, message
    assert f"chmod -R go= {data_dir}" in message and "0755" in message
    os.chmod(data_dir, 0o700)  # the fix the message names
    Storage.open(data_dir).close()


def test_an_exposed_key_file_is_refused(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    Storage.open(data_dir).close()
    os.chmod(data_dir / KEY_FILE, 0o644)
    with pytest.raises(DataDirExposed, match=r"chmod -R go= "):
        Storage.open(data_dir)


def test_the_platform_key_can_come_from_the_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    data_dir = tmp_path / "data"
    monkeypatch.setenv(ENV_VAR, "ab" * 32)
    storage = Storage.open(data_dir)
    storage.close()
    assert storage.file_keys.platform_key == b"\xab" * 32
    assert not (data_dir / KEY_FILE).exists(), "with the key in the environment, no copy of it lands on disk"


def test_a_wrong_platform_key_stops_the_start(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    data_dir = tmp_path / "data"
    monkeypatch.setenv(ENV_VAR, "01" * 32)
    server = LocalServer(data_dir, workers=0)
    server.start()
    try:
        with Client(server.url) as admin:
            admin.user_login(server.admin_id, server.admin_password)
            admin.user_register("env-owner", "env-owner-pw", "DataOwner", "env")
        with Client(server.url) as owner:
            owner.user_login("env-owner", "env-owner-pw")
            url = owner.reserve_file("out.bin").url
            owner.register_output_file(url, "aes-gcm-128", KEY, IV)
    finally:
        server.stop()
    monkeypatch.setenv(ENV_VAR, "02" * 32)
    with pytest.raises(PlatformKeyError, match="another platform key"):
        Storage.open(data_dir)
    done = subprocess.run(
        teabox_command("serve", "--data-dir", str(data_dir), "--port", "0", "--workers", "0"),
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, ENV_VAR: "bad"},
    )
    assert done.returncode != 0 and "64 hex digits" in done.stderr


def test_migration_seals_existing_plaintext_keys(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    data_dir.mkdir(mode=0o700)
    database = Database.for_data_dir(data_dir)
    config = alembic_config(database.url)
    command.upgrade(config, "0001")  # a database as the previous release left it
    database.dispose()
    with sqlite3.connect(data_dir / "teabox.db") as old:
        old.execute(
            "INSERT INTO files (id, kind, url, schema, key, iv, cmac, fusion, created_at) "
            "VALUES ('input-old', 'input', 'data:,x', 'aes-gcm-128', ?, ?, ?, 0, 0)",
            (KEY, IV, CMAC),
        )
    storage = Storage.open(data_dir)
    storage.close()
    with sqlite3.connect(data_dir / "teabox.db") as migrated:
        columns = {row[1] for row in migrated.execute("PRAGMA table_info(files)")}
        (sealed,) = migrated.execute("SELECT sealed_key FROM files WHERE id = 'input-old'").fetchone()
    assert not {"key", "iv"} & columns
    assert KEY not in sealed
    assert storage.file_keys.open("input-old", sealed) == (KEY, IV)
    # And back: the downgrade unseals them with the same platform key.
    config.attributes["file_keys"] = storage.file_keys
    command.downgrade(config, "0001")
    with sqlite3.connect(data_dir / "teabox.db") as downgraded:
        assert downgraded.execute("SELECT key, iv FROM files WHERE id = 'input-old'").fetchone() == (KEY, IV)


def test_the_key_migration_refuses_to_run_without_the_platform_key(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    data_dir.mkdir(mode=0o700)
    config = alembic_config(Database.for_data_dir(data_dir).url)
    command.upgrade(config, "0001")
    with pytest.raises(RuntimeError, match="teabox admin migrate"):
        command.upgrade(config, "0003_keys")


def test_a_lost_key_file_is_not_silently_replaced(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    storage = Storage.open(data_dir)
    storage.close()
    with sqlite3.connect(data_dir / "teabox.db") as database:
        database.execute(
            "INSERT INTO files (id, kind, url, schema, sealed_key, fusion, created_at) "
            "VALUES ('input-kept', 'input', 'data:,x', 'aes-gcm-128', ?, 0, 0)",
            (storage.file_keys.seal("input-kept", KEY, IV),),
        )
    backup = (data_dir / KEY_FILE).read_bytes()
    (data_dir / KEY_FILE).unlink()
    with pytest.raises(PlatformKeyError, match=r"is missing.*restore it from a backup"):
        Storage.open(data_dir)
    assert not (data_dir / KEY_FILE).exists(), "a new key must not stand in the way of the restored one"
    (data_dir / KEY_FILE).write_bytes(backup)
    os.chmod(data_dir / KEY_FILE, 0o600)
    restored = Storage.open(data_dir)
    restored.close()
