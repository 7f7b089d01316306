"""What the command says when a newcomer gets something wrong, and what the lean install does.

Each message names what was wrong and the way out; usage mistakes exit 2 before
any work starts. The lean install is simulated by a child process in which the
server's and the toolchain's packages cannot be imported.
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner
from support.examples import build_example
from support.postgres import PostgresCluster

from teabox.cli.main import main
from teabox.testing.local_server import free_port, teabox_command

# Its tests share module-scoped servers: one pytest-xdist process runs them all, so each starts once.
pytestmark = pytest.mark.xdist_group("cli_messages")

SERVER_AND_TOOLCHAIN = ("wasmtime", "ziglang", "fastapi", "uvicorn", "starlette", "sqlalchemy", "alembic", "argon2")

# Runs `teabox ARGS...` in a child where the named top-level packages raise ModuleNotFoundError on import.
_WITHOUT = """
import sys
blocked = set(sys.argv[1].split(","))

class Blocker:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in blocked:
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)

sys.meta_path.insert(0, Blocker())
sys.argv = ["teabox", *sys.argv[2:]]
from teabox.cli.main import main
main()
"""


def teabox_without(packages: tuple[str, ...], *args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", _WITHOUT, ",".join(packages), *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=120,
    )


def invoke(*args: str, stdin: str | None = None) -> object:
    return CliRunner().invoke(main, list(args), input=stdin)


def test_a_typo_in_a_top_level_command_gets_did_you_mean() -> None:
    result = CliRunner().invoke(main, ["quickstrat"])
    assert result.exit_code == 2
    assert "No such command 'quickstrat'" in result.output and "Did you mean 'quickstart'?" in result.output


@pytest.mark.parametrize(
    ("command", "extra"), [(["serve"], "server"), (["admin", "migrate"], "server"), (["run", "x.wasm"], "toolchain")]
)
def test_a_command_whose_extra_is_missing_names_the_extra(command: list[str], extra: str, tmp_path: Path) -> None:
    done = teabox_without(SERVER_AND_TOOLCHAIN, *command, cwd=tmp_path)
    assert done.returncode == 1, done.stderr
    assert f"'{extra}' extra" in done.stderr and f"pip install '.[{extra}]'" in done.stderr
    assert "Traceback" not in done.stderr
    assert list(tmp_path.iterdir()) == []  # nothing was started or created


def test_the_lean_install_encrypts_and_reaches_the_platform_commands(tmp_path: Path) -> None:
    (tmp_path / "plain.txt").write_text("secret")
    key = "000102030405060708090a0b0c0d0e0f"
    done = teabox_without(
        SERVER_AND_TOOLCHAIN,
        *("encrypt", "-a", "teaclave-file-128", "-k", key, "-i", "plain.txt", "-o", "c.enc", "-c"),
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr
    assert len(done.stdout.strip()) == 32  # the cmac
    done = teabox_without(SERVER_AND_TOOLCHAIN, "task", "list", "--profile", "nobody", cwd=tmp_path)
    assert done.returncode == 1 and "not logged in: run `teabox login USER_ID --profile nobody`" in done.stderr


def test_serve_on_a_busy_port_says_so_and_nothing_else(tmp_path: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        done = subprocess.run(
            teabox_command("serve", "--data-dir", str(tmp_path / "data"), "--port", str(port), "--workers", "0"),
            capture_output=True,
            text=True,
            timeout=120,
        )
    assert done.returncode == 1
    assert f"cannot listen on 127.0.0.1:{port}" in done.stderr and "choose another --port" in done.stderr
    assert "serving" not in done.stderr
    assert not (tmp_path / "data").exists()


def test_serve_without_an_admin_says_how_to_create_one(tmp_path: Path) -> None:
    process = subprocess.Popen(
        teabox_command("serve", "--data-dir", str(tmp_path / "data"), "--port", str(free_port()), "--workers", "0"),
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        lines = []
        assert process.stderr is not None
        for line in process.stderr:  # the note comes before the server announces itself
            lines.append(line)
            if "serving" in line:
                break
    finally:
        process.kill()  # no workers to stop (--workers 0), and nothing to keep
        process.wait(timeout=60)
        process.stderr.close()
    said = "".join(lines)
    assert "has no PlatformAdmin" in said and f"teabox admin create --data-dir {tmp_path / 'data'}" in said


def test_admin_create_checks_the_password_before_asking_again(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        main,
        ["admin", "create", "--data-dir", str(tmp_path / "data"), "--user-id", "root"],
        input="short\nlong-enough\nlong-enough\n",
    )
    assert result.exit_code == 0, result.output
    first_error = result.output.index("a password must be 8 to 1024 characters long")
    assert result.output.count("Repeat for confirmation") == 1
    assert first_error < result.output.index("Repeat for confirmation")


def test_admin_create_on_another_database_says_which(postgres_cluster: PostgresCluster, tmp_path: Path) -> None:
    """The admin lives in the --database named, not in the data directory: the message says so, password hidden."""
    url = postgres_cluster.create_database().replace("postgres@", "postgres:secret@")
    command = ["admin", "create", "--data-dir", str(tmp_path / "data"), "--database", url, "--user-id", "root"]
    result = CliRunner().invoke(main, [*command, "--password-stdin"], input="long-enough\n")
    assert result.exit_code == 0, result.output
    assert result.output.startswith("created PlatformAdmin 'root' in the database postgresql+psycopg://postgres:***@")
    assert "secret" not in result.output and str(tmp_path) not in result.output


@pytest.fixture(scope="module")
def millionaire(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("payload") / "millionaire.wasm"
    path.write_bytes(build_example("millionaire-c"))
    return path


def test_run_explains_a_return_value_after_an_unbound_output(millionaire: Path, tmp_path: Path) -> None:
    for name, wealth in (("a", "5"), ("b", "9")):
        (tmp_path / name).write_text(wealth)
    args = ["run", str(millionaire), "--input", f"pf_in_a={tmp_path / 'a'}", "--input", f"pf_in_b={tmp_path / 'b'}"]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0
    assert result.stdout.strip() == "-3"
    assert "returned -3 after teabox refused to open output 'pf_out'" in result.stderr
    assert "add --output pf_out=FILE" in result.stderr
    as_json = json.loads(CliRunner().invoke(main, [*args, "--json"]).stdout)
    assert as_json["return_value"] == -3


def test_run_on_a_source_file_suggests_building_it(tmp_path: Path) -> None:
    (tmp_path / "add.c").write_text("int entrypoint(int argc, char **argv) { return 0; }\n")
    result = CliRunner().invoke(main, ["run", str(tmp_path / "add.c")])
    assert result.exit_code == 2
    assert f"teabox build {tmp_path / 'add.c'} -o add.wasm" in result.output


def test_a_missing_entrypoint_gets_a_fix_line(tmp_path: Path) -> None:
    (tmp_path / "main.c").write_text("int main(void) { return 0; }\n")
    result = CliRunner().invoke(main, ["build", str(tmp_path / "main.c"), "-o", str(tmp_path / "main.wasm")])
    assert result.exit_code == 1
    assert "the payload defines no `entrypoint`" in result.stderr
    assert "fix: define the function teabox calls, `int entrypoint(int argc, char* argv[])`" in result.stderr


def test_sdk_path_refuses_two_choices() -> None:
    result = CliRunner().invoke(main, ["sdk-path", "--include", "--zig"])
    assert result.exit_code == 2 and "at most one of --include, --zig and --rust" in result.output


def test_a_bad_schema_is_a_usage_error_before_any_work(tmp_path: Path) -> None:
    (tmp_path / "in.txt").write_text("1")
    result = CliRunner().invoke(
        main, ["file", "upload-input", str(tmp_path / "in.txt"), "--schema", "aes-gcm-512"], env={"TEABOX_TOKEN": "x"}
    )
    assert result.exit_code == 2
    assert "'aes-gcm-512' is not one of" in result.output and "upload in.txt" not in result.stderr
    result = CliRunner().invoke(
        main, ["file", "new-output", "v.enc", "--schema", "aes-gcm-128", "--key", "00"], env={"TEABOX_TOKEN": "x"}
    )
    assert result.exit_code == 2 and "--key/--iv" in result.output


def test_quiet_new_output_refuses_to_lose_a_fresh_key() -> None:
    result = CliRunner().invoke(main, ["file", "new-output", "v.enc", "--quiet"], env={"TEABOX_TOKEN": "x"})
    assert result.exit_code == 2 and "add --key-file FILE" in result.output


def test_a_bad_profile_name_is_a_usage_error() -> None:
    result = CliRunner().invoke(main, ["whoami", "--profile", "../etc"])
    assert result.exit_code == 2 and "not a profile name" in result.output


def test_quickstart_says_what_it_does_before_the_slow_steps() -> None:
    process = subprocess.Popen(
        teabox_command("quickstart"), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    assert process.stdout is not None
    with process.stdout:
        first = process.stdout.readline()
        rest = process.stdout.read()
    assert process.wait(timeout=300) == 0, first + rest
    assert first.startswith("teabox quickstart: build the payload, start a throw-away platform")
    assert rest.index("[+] built the payload") < rest.index("[+] platform up at") < rest.index("[+] done in")
    assert "verdict 'pf_in_a'" in rest


def test_the_first_build_of_its_kind_says_what_it_builds_once(tmp_path: Path) -> None:
    env = {"TEABOX_CACHE_DIR": str(tmp_path / "cache")}  # a machine on which teabox never built anything
    for name in ("one", "two"):
        (tmp_path / f"{name}.c").write_text(f"int entrypoint(int argc, char **argv) {{ return {len(name)}; }}\n")
    first = CliRunner().invoke(main, ["build", str(tmp_path / "one.c"), "-o", str(tmp_path / "one.wasm")], env=env)
    assert first.exit_code == 0, first.output
    assert "first build of its kind: Zig builds its runtime library for wasm32 once" in first.stderr
    # Another source of the same kind compiles (it is not in the build cache) without the note.
    second = CliRunner().invoke(main, ["build", str(tmp_path / "two.c"), "-o", str(tmp_path / "two.wasm")], env=env)
    assert second.exit_code == 0 and "built" in second.stdout and "from cache" not in second.stdout
    assert "first build" not in second.stderr


def test_a_role_without_its_attribute_is_refused_before_the_password_prompt() -> None:
    result = CliRunner().invoke(main, ["user", "register", "carol", "--role", "DataOwner"], env={"TEABOX_TOKEN": "x"})
    assert result.exit_code == 2
    assert "Invalid value for --role/--attribute: role DataOwner needs an attribute" in result.output
    assert "Password" not in result.output
