"""Behind wasmtime: a sandbox process is confined, even against code that runs inside it.

The live sandbox process is inspected from outside (/proc). What it can still
do is tried from inside a separate process that confines itself exactly as a
sandbox process does and then acts as a compromised host function would:
opening files, making sockets, running programs.
"""

from __future__ import annotations

import json
import os
import pwd
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import wasmtime

from teabox.executor import Executor
from teabox.executor.confinement import ADDRESS_SPACE_LIMIT, OPEN_FILES_LIMIT, drop_privileges

# Its tests share module-scoped servers: one pytest-xdist process runs them all, so each starts once.
pytestmark = pytest.mark.xdist_group("sandbox_confinement")

_TRIVIAL = wasmtime.wat2wasm(
    '(module (memory (export "memory") 1) (func (export "entrypoint") (param i32 i32) (result i32) (i32.const 1)))'
)

# Confines itself as a sandbox process does, then tries what an escaped payload would.
PROBE = r"""
import json, os, socket, sys
import wasmtime
from teabox.executor import Limits, MemoryOutputs
from teabox.executor.confinement import confine, sandbox_user
from teabox.executor.runner import InProcessRunner

secret = sys.argv[1]
runner = InProcessRunner(engine_deadline=False, disk_cache=False)
confine((), sandbox_user())


def attempt(action):
    try:
        action()
    except OSError as exc:
        return exc.errno
    return 0


class Hostile:
    # Inputs whose open() is a compromised host-side call: it reads a file by path.
    def names(self):
        return ["stolen"]

    def open(self, name):
        return open(secret, "rb")


# The engine still works confined (parallel compilation uses threads), and a host call that
# tries to open a file gets -1 with the refusal recorded.
payload = wasmtime.wat2wasm(
    '(module (import "env" "teaclave_open_input" (func $open (param i32) (result i32)))'
    ' (memory (export "memory") 1) (data (i32.const 0) "stolen\\00")'
    ' (func (export "entrypoint") (param i32 i32) (result i32) (call $open (i32.const 0))))'
)
result = runner.run(payload, inputs=Hostile(), outputs=MemoryOutputs(), limits=Limits())
print(json.dumps({
    "open": attempt(lambda: open(secret, "rb")),
    "create": attempt(lambda: open("/tmp/teabox-sandbox-probe", "wb")),
    "socket_inet": attempt(lambda: socket.socket(socket.AF_INET, socket.SOCK_STREAM)),
    "socket_unix": attempt(lambda: socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)),
    "socketpair": attempt(socket.socketpair),
    "exec": attempt(lambda: os.execv("/bin/true", ["true"])),
    "fork": attempt(os.fork),
    "mkdir": attempt(lambda: os.mkdir("/tmp/teabox-sandbox-probe-dir")),
    "run": [result.return_value, result.diagnostics],
    "uid": os.getuid(),
}))
"""


def test_a_confined_process_cannot_open_files_make_sockets_or_run_programs(tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("the other party's data")
    secret.chmod(0o644)
    probe = subprocess.run(
        [sys.executable, "-c", PROBE, str(secret)], capture_output=True, text=True, timeout=120, check=False
    )
    assert probe.returncode == 0, probe.stderr
    seen = json.loads(probe.stdout)
    denied = {name: seen[name] for name in ("open", "create", "socket_inet", "socket_unix", "socketpair", "exec")}
    assert denied == dict.fromkeys(denied, 1)  # EPERM, each of them
    assert seen["fork"] == 1 and seen["mkdir"] == 1
    return_value, diagnostics = seen["run"]
    assert return_value == "-1"
    assert "Operation not permitted" in diagnostics[0]
    assert not Path("/tmp/teabox-sandbox-probe").exists()
    if os.geteuid() == 0:
        assert seen["uid"] == pwd.getpwnam("nobody").pw_uid


@pytest.fixture(scope="module")
def sandbox_pid(tmp_path_factory: pytest.TempPathFactory) -> Iterator[int]:
    executor = Executor(tmp_path_factory.mktemp("cache"), isolation="subprocess")
    try:
        assert executor.run(_TRIVIAL).ok
        (child,) = executor._runner._idle  # type: ignore[attr-defined]
        yield child.process.pid
    finally:
        executor.close()


def _status(pid: int) -> dict[str, str]:
    lines = Path(f"/proc/{pid}/status").read_text().splitlines()
    return {key: value.strip() for key, _, value in (line.partition(":") for line in lines)}


def test_the_sandbox_process_runs_under_its_seccomp_filter(sandbox_pid: int) -> None:
    status = _status(sandbox_pid)
    assert status["Seccomp"] == "2"  # filter mode
    assert status["NoNewPrivs"] == "1"


def test_the_sandbox_process_holds_only_its_connection_its_watch_pipe_and_dev_null(sandbox_pid: int) -> None:
    targets = sorted(os.readlink(f"/proc/{sandbox_pid}/fd/{fd}") for fd in os.listdir(f"/proc/{sandbox_pid}/fd"))
    assert targets[:3] == ["/dev/null"] * 3
    kinds = sorted(target.split(":")[0] for target in targets[3:])
    assert kinds == ["pipe", "socket"]


def test_the_sandbox_process_has_resource_limits(sandbox_pid: int) -> None:
    limits = Path(f"/proc/{sandbox_pid}/limits").read_text()
    assert f"Max address space         {ADDRESS_SPACE_LIMIT}" in limits
    assert f"Max open files            {OPEN_FILES_LIMIT}" in limits
    cpu = next(line for line in limits.splitlines() if line.startswith("Max cpu time"))
    assert "unlimited" not in cpu.split()[3]


def test_the_sandbox_process_starts_without_coverage_measurement(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("COVERAGE_PROCESS_CONFIG", "COVERAGE_PROCESS_START"):
        monkeypatch.setenv(name, str(tmp_path / "coverage.toml"))
    monkeypatch.setenv("TEABOX_PROBE_VARIABLE", "kept")
    executor = Executor(tmp_path / "cache", isolation="subprocess")
    try:
        assert executor.run(_TRIVIAL).ok
        (child,) = executor._runner._idle  # type: ignore[attr-defined]
        environ = Path(f"/proc/{child.process.pid}/environ").read_bytes().split(b"\0")
    finally:
        executor.close()
    assert b"TEABOX_PROBE_VARIABLE=kept" in environ
    assert [entry for entry in environ if entry.startswith(b"COVERAGE_PROCESS_")] == []


@pytest.mark.skipif(os.geteuid() != 0, reason="only a root teabox switches the sandbox to another user")
def test_a_root_teabox_runs_its_sandbox_as_nobody(sandbox_pid: int) -> None:
    nobody = pwd.getpwnam("nobody")
    uids = _status(sandbox_pid)["Uid"].split()
    assert uids == [str(nobody.pw_uid)] * 4
    assert _status(sandbox_pid)["Groups"] == ""


@pytest.mark.skipif(os.geteuid() != 0, reason="only a root teabox switches the sandbox to another user")
def test_the_sandbox_user_is_configurable_but_never_root(tmp_path: Path) -> None:
    executor = Executor(tmp_path / "cache", isolation="subprocess", sandbox_user="daemon")
    try:
        assert executor.run(_TRIVIAL).ok
        (child,) = executor._runner._idle  # type: ignore[attr-defined]
        assert _status(child.process.pid)["Uid"].split()[0] == str(pwd.getpwnam("daemon").pw_uid)
    finally:
        executor.close()
    with pytest.raises(PermissionError, match="is root"):
        drop_privileges("root")
    as_root = Executor(tmp_path / "cache", isolation="subprocess", sandbox_user="root")
    try:
        refused = as_root.run(_TRIVIAL)
        assert refused.failure is not None and refused.failure.kind.value == "host_error"
    finally:
        as_root.close()
