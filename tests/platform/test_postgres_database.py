"""What PostgreSQL enforces and SQLite does not: the same answers from both, through real servers.

Each test that talks HTTP runs against a server on SQLite and one on PostgreSQL. The PostgreSQL
database uses an ICU ``en-US`` collation, under which text orders ignoring case and punctuation
at first, so that an ordering left to the collation would come back differently from SQLite's.
"""

from __future__ import annotations

import itertools
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner
from sqlalchemy import create_engine, inspect, text
from sqlalchemy.exc import OperationalError
from support.databases import migrated_template
from support.platform_api import Api, register_function
from support.postgres import PostgresCluster

from teabox.cli.admin import admin_group
from teabox.platform.core import Platform
from teabox.platform.db import Database, SchemaOutdated, alembic_config
from teabox.platform.file_keys import KEY_FILE, PlatformKeyError
from teabox.platform.storage import Storage
from teabox.testing.local_server import LocalServer, teabox_command

# Its tests share module-scoped servers: one pytest-xdist process runs them all, so each starts once.
pytestmark = pytest.mark.xdist_group("postgres_database")

_names = itertools.count(1)


def _head() -> str:
    from alembic.script import ScriptDirectory

    head = ScriptDirectory.from_config(alembic_config("sqlite://")).get_current_head()
    assert head is not None
    return head


def _collated_database(cluster: PostgresCluster) -> str:
    """An empty database whose text collation is ICU's en-US (not byte order)."""
    name = f"teabox_icu_{next(_names)}"
    cluster.sql(
        f"CREATE DATABASE {name} TEMPLATE template0 ENCODING 'UTF8' LOCALE 'C.UTF-8' "
        "LOCALE_PROVIDER icu ICU_LOCALE 'en-US'"
    )
    return cluster.url(name)


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def server(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalServer]:
    database_url = (
        _collated_database(request.getfixturevalue("postgres_cluster")) if request.param == "postgres" else None
    )
    running = LocalServer(tmp_path_factory.mktemp(f"on-{request.param}"), workers=0, database_url=database_url)
    running.start()
    yield running
    running.stop()


@pytest.fixture(scope="module")
def admin(server: LocalServer) -> Iterator[Api]:
    with Api(server.url).login(server.admin_id, server.admin_password) as session:
        yield session


def _audit(admin: Api, **query: object) -> list[dict[str, object]]:
    return admin.call("query_audit_logs", limit=50, **query)["logs"]  # type: ignore[no-any-return]


def test_a_nul_character_is_refused_naming_the_field_and_the_refusal_is_audited(
    admin: Api, server: LocalServer
) -> None:
    owner = admin.new_user("FunctionOwner")
    message = owner.refused("register_function", 400, "invalid_text", name="bad\x00name", payload="AA==")
    assert message.startswith("name contains a NUL character")
    message = owner.refused(
        "register_function",
        400,
        "invalid_text",
        name="f",
        payload="AA==",
        arguments=[{"key": "a", "default_value": "x\x00"}],
    )
    assert message.startswith("arguments[0].default_value contains a NUL character")
    upload = httpx.post(
        f"{server.url}/api/v1/upload_file",
        params={"name": "a\x00b"},
        content=b"x",
        headers=admin.new_user("DataOwner", "nul").headers(),
    )
    assert upload.status_code == 400 and upload.json()["error"]["code"] == "invalid_text"
    assert upload.json()["error"]["message"].startswith("name contains a NUL character")
    # A refused login with a NUL in the user id is recorded too (as \x00), not lost to a failed insert.
    Api(server.url, http=admin.http).refused(
        "user_login", 400, "invalid_text", user_id="ghost\x00", password="whatever"
    )
    [entry] = _audit(admin, action="user_login", user_id="ghost\\x00")
    assert entry["outcome"] == "invalid_text"


def test_a_250_character_reserved_name_and_its_long_url_are_kept(admin: Api) -> None:
    me = admin.new_user("DataOwner", "long")
    name = "n" * 246 + ".enc"
    reserved = me.call("reserve_file", name=name)
    assert reserved["url"].startswith("teabox://files/") and reserved["url"].endswith("/" + name)
    assert len(reserved["url"]) > 255
    [entry] = _audit(admin, action="reserve_file", user_id=me.user_id)
    assert entry["object_id"] == reserved["url"]


def test_sizes_and_counts_beyond_32_bits_are_kept(admin: Api) -> None:
    owner = admin.new_user("FunctionOwner")
    quota = 2**40 + 3
    function_id = register_function(owner, usage_quota=quota)
    assert owner.call("get_function", function_id=function_id)["usage_quota"] == quota


def test_the_audit_message_filter_ignores_case_and_matches_underscore_literally(admin: Api) -> None:
    me = admin.new_user("DataOwner", "audit", prefix="MiXeD")
    marker = f"Reportz{next(_names)}x{me.user_id}"
    me.call("reserve_file", name=f"{marker}.enc")
    found = _audit(admin, message=me.user_id.lower(), action="user_login")
    assert [entry["user_id"] for entry in found] == [me.user_id]
    assert [e["action"] for e in _audit(admin, message=marker.upper())] == ["reserve_file"]
    assert _audit(admin, message=marker.replace("z", "_", 1)) == []  # _ matches itself, not any character


def test_lists_come_back_in_code_point_order(admin: Api) -> None:
    prefix = f"order{next(_names)}"
    for suffix in ("b", "B-2", "a", "_c", "A1", "b1"):
        admin.call("user_register", user_id=f"{prefix}{suffix}", password="pw-order-12345", role="FunctionOwner")
    listed = [user for user in admin.call("list_users")["ids"] if user.startswith(prefix)]
    assert listed == sorted(listed)
    assert listed == [f"{prefix}{s}" for s in ("A1", "B-2", "_c", "a", "b", "b1")]


def test_audit_ids_pass_32_bits_on_postgresql(
    admin: Api, server: LocalServer, postgres_cluster: PostgresCluster
) -> None:
    if server.database_url is None:
        pytest.skip("SQLite's INTEGER PRIMARY KEY is 64-bit by nature")
    database = server.database_url.rsplit("/", 1)[1]
    postgres_cluster.sql("SELECT setval('audit_log_id_seq', 3000000000)", database)
    admin.call("get_current_user")
    [entry] = _audit(admin, action="get_current_user", user_id=admin.user_id)[:1]
    assert int(str(entry["id"])) > 2**31


# -- migrations, and what the commands say about a database they cannot use ------------------------


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_three_processes_migrating_an_empty_database_at_once_all_succeed(
    backend: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    if backend == "postgres":
        url = request.getfixturevalue("postgres_cluster").create_database()
    else:
        url = f"sqlite:///{tmp_path / 'shared.db'}"
    processes = []
    for index in range(3):
        data_dir = tmp_path / f"data-{index}"
        data_dir.mkdir(mode=0o700)
        command = teabox_command("admin", "migrate", "--data-dir", str(data_dir), "--database", url)
        processes.append(subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True))
    errors = [process.communicate(timeout=120)[1] for process in processes]  # reads and closes both pipes
    results = [(process.returncode, error) for process, error in zip(processes, errors, strict=True)]
    assert [code for code, _ in results] == [0, 0, 0], results
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            from alembic.runtime.migration import MigrationContext

            assert MigrationContext.configure(connection).get_current_revision() == _head()
    finally:
        engine.dispose()


def test_a_worker_never_migrates_and_says_what_to_run(tmp_path: Path, postgres_cluster: PostgresCluster) -> None:
    url = postgres_cluster.create_database()
    data_dir = tmp_path / "data"
    data_dir.mkdir(mode=0o700)
    done = subprocess.run(
        teabox_command("worker", "--data-dir", str(data_dir), "--database", url, "--workers", "1"),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 1, done.stderr
    assert "teabox admin migrate" in done.stderr and "empty" in done.stderr and "Traceback" not in done.stderr
    engine = create_engine(url)
    try:
        assert inspect(engine).get_table_names() == []  # nothing was created
    finally:
        engine.dispose()


def test_postgres_urls_map_to_psycopg_and_the_missing_driver_names_the_install_command(
    tmp_path: Path, postgres_cluster: PostgresCluster
) -> None:
    url = postgres_cluster.create_database().replace("postgresql+psycopg://", "postgresql://")
    runner = CliRunner()
    done = runner.invoke(admin_group, ["migrate", "--data-dir", str(tmp_path / "a"), "--database", url])
    assert done.exit_code == 0, done.output
    assert "postgresql+psycopg://postgres@127.0.0.1" in done.output
    # Without psycopg installed (hidden from a fresh interpreter), the same URL names the extra to install.
    hide = "import sys; sys.modules['psycopg'] = None; from teabox.cli.main import main; sys.argv[0] = 'teabox'; main()"
    hidden = subprocess.run(
        [sys.executable, "-c", hide, "admin", "migrate", "--data-dir", str(tmp_path / "b"), "--database", url],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert hidden.returncode == 1
    assert "pip install '.[postgres]'" in hidden.stderr and "Traceback" not in hidden.stderr


@pytest.mark.parametrize(
    ("url", "said"),
    [
        ("mysql://host/db", "unsupported database (mysql)"),
        ("not a url", "must be a URL such as postgresql://"),
        ("postgresql://postgres@127.0.0.1:1/nothing", "cannot use the database: connection"),
    ],
)
def test_a_database_url_teabox_cannot_use_is_refused_in_one_line(url: str, said: str, tmp_path: Path) -> None:
    done = CliRunner().invoke(admin_group, ["migrate", "--data-dir", str(tmp_path / "d"), "--database", url])
    assert done.exit_code == 1
    assert said in done.output and "Traceback" not in done.output, done.output


def test_connections_the_server_dropped_cost_one_failed_statement_not_one_each(
    postgres_cluster: PostgresCluster,
) -> None:
    url = postgres_cluster.create_database(migrated_template(postgres_cluster))
    database = Database(url)
    try:
        with database.reading() as first, database.reading() as second:  # two pooled connections
            assert first.scalar(text("SELECT 1")) == second.scalar(text("SELECT 1")) == 1
        name = url.rsplit("/", 1)[1]
        postgres_cluster.sql(f"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{name}'")
        with pytest.raises(OperationalError), database.reading() as connection:
            connection.scalar(text("SELECT 1"))
        # The failure invalidated the whole pool: the next checkouts connect afresh.
        with database.reading() as first, database.reading() as second:
            assert first.scalar(text("SELECT 1")) == second.scalar(text("SELECT 1")) == 1
    finally:
        database.dispose()


def test_a_second_server_with_a_key_of_its_own_is_refused_and_starts_with_the_shared_key(
    tmp_path: Path, postgres_cluster: PostgresCluster, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = postgres_cluster.create_database(migrated_template(postgres_cluster))
    password = "a-long-enough-password"
    first = Storage.open(tmp_path / "first", database_url=url)
    try:
        platform = Platform(first)
        platform.create_admin("admin", password)
        admin = platform.authenticate(
            platform.call("user_login", None, {"user_id": "admin", "password": password})["token"]
        )
        platform.call("user_register", admin, {"user_id": "owner", "password": password, "role": "DataOwner-org"})
        owner = platform.authenticate(
            platform.call("user_login", None, {"user_id": "owner", "password": password})["token"]
        )
        crypto = {"schema": "teaclave-file-128", "key": bytes(16), "iv": b"", "cmac": bytes(16)}
        platform.call("register_input_file", owner, {"url": "https://files.example/in.enc", **crypto})
    finally:
        first.close()
    with pytest.raises(PlatformKeyError, match="TEABOX_PLATFORM_KEY"):
        Storage.open(tmp_path / "second", database_url=url)
    assert not (tmp_path / "second" / KEY_FILE).exists()  # the key it made is not left in the way
    monkeypatch.setenv("TEABOX_PLATFORM_KEY", (tmp_path / "first" / KEY_FILE).read_text().strip())
    Storage.open(tmp_path / "second", database_url=url, migrate=False).close()


def test_processes_that_do_not_migrate_refuse_an_older_schema_and_accept_a_newer_one(tmp_path: Path) -> None:
    Storage.open(tmp_path / "data").close()
    database = Database.for_data_dir(tmp_path / "data")
    try:
        for revision, refused in (("0006_withdrawals", True), ("9999_from_a_newer_release", False)):
            with database.engine.begin() as connection:
                connection.execute(text("UPDATE alembic_version SET version_num = :v"), {"v": revision})
            if refused:
                with pytest.raises(SchemaOutdated, match="at schema revision 0006_withdrawals, but this teabox needs"):
                    Storage.open(tmp_path / "data", migrate=False)
            else:
                Storage.open(tmp_path / "data", migrate=False).close()  # a rolling upgrade: newer is fine
    finally:
        database.dispose()
