"""The compiled-module cache, across runs and processes; concurrent runs."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from teabox.executor import Executor, Limits, MemoryInputs, MemoryOutputs

from .conftest import entry

ECHO = entry(
    "(local.set $a (call $open (i32.const 16)))"
    "(local.set $o (call $create (i32.const 19)))"
    "(local.set $n (call $read (local.get $a) (i32.const 1000) (i32.const 4096)))"
    "(drop (call $write (local.get $o) (i32.const 1000) (local.get $n)))"
    # return n * argc so the result depends on both the input and the arguments
    "(i32.mul (local.get $n) (local.get $argc))",
    data='(data (i32.const 16) "in\\00out\\00")',
    locals_="(local $a i32) (local $o i32) (local $n i32)",
)


def test_second_run_does_not_compile_again(tmp_path: Path) -> None:
    executor = Executor(cache_dir=tmp_path)
    first = executor.run(ECHO, inputs=MemoryInputs({"in": b"x"}), outputs=MemoryOutputs(["out"]))
    second = executor.run(ECHO, inputs=MemoryInputs({"in": b"x"}), outputs=MemoryOutputs(["out"]))
    assert (first.module_source, second.module_source) == ("compiled", "memory")
    assert executor.cache.compilations == 1
    fresh = Executor(cache_dir=tmp_path)
    third = fresh.run(ECHO, inputs=MemoryInputs({"in": b"x"}), outputs=MemoryOutputs(["out"]))
    assert third.module_source == "disk" and fresh.cache.compilations == 0
    fuelled = fresh.run(
        ECHO, inputs=MemoryInputs({"in": b"x"}), outputs=MemoryOutputs(["out"]), limits=Limits(fuel=10**6)
    )
    assert fuelled.module_source == "compiled"  # another engine configuration, another entry


def test_a_new_process_loads_from_disk(tmp_path: Path) -> None:
    payload = tmp_path / "p.wasm"
    payload.write_bytes(entry("(i32.const 5)"))
    env = {"TEABOX_CACHE_DIR": str(tmp_path / "cache"), "PATH": "/usr/bin:/bin"}
    env |= {name: os.environ[name] for name in ("PYTHONPATH",) if name in os.environ}  # the teabox under test
    sources = []
    for _ in range(2):
        out = subprocess.run(
            [sys.executable, "-m", "teabox.cli", "run", str(payload), "--json"],
            capture_output=True,
            text=True,
            env=env,
            check=True,
        )
        sources.append(json.loads(out.stdout)["module_source"])
    assert sources == ["compiled", "disk"]


def test_a_tampered_cache_entry_is_recompiled_not_loaded(tmp_path: Path) -> None:
    Executor(cache_dir=tmp_path).run(entry("(i32.const 5)"))
    (entry_file,) = (tmp_path / "modules").glob("*.cwasm")
    blob = bytearray(entry_file.read_bytes())
    blob[-100] ^= 1
    entry_file.write_bytes(bytes(blob))
    fresh = Executor(cache_dir=tmp_path)
    result = fresh.run(entry("(i32.const 5)"))
    assert result.ok and result.module_source == "compiled"


def test_the_cache_directory_is_private(tmp_path: Path) -> None:
    Executor(cache_dir=tmp_path).run(entry("(i32.const 5)"))
    assert (tmp_path / "modules").stat().st_mode & 0o077 == 0
    shared = tmp_path / "shared"
    (shared / "modules").mkdir(parents=True)
    (shared / "modules").chmod(0o777)
    executor = Executor(cache_dir=shared)
    assert executor.run(entry("(i32.const 5)")).ok
    assert executor.cache.disk_problem is not None and "not private" in executor.cache.disk_problem
    assert not list((shared / "modules").glob("*.cwasm"))


def test_eight_concurrent_runs_are_correct_and_independent(tmp_path: Path) -> None:
    executor = Executor(cache_dir=tmp_path)

    def one(i: int) -> tuple[str | None, bytes]:
        outputs = MemoryOutputs(["out"])
        data = bytes([65 + i]) * (i + 1)
        args = {f"k{j}": str(j) for j in range(i)}
        result = executor.run(ECHO, args, MemoryInputs({"in": data}), outputs)
        return result.return_value, outputs.results.get("out", b"")

    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(one, range(8 * 4)))
    for i, (value, out) in enumerate(results):
        assert out == bytes([65 + i]) * (i + 1)
        assert value == str((i + 1) * 2 * i)
