"""Shared by the toolchain and example tests: an isolated cache, running a built payload, fixture paths."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest

from support.examples import EXAMPLES  # noqa: F401 - the example tests' sources
from support.teaclave_fixtures import FIXTURES
from teabox.executor import Executor, MemoryInputs, MemoryOutputs, RunResult
from teabox.toolchain import ToolchainMissing
from teabox.toolchain.rust import find_toolchain


@pytest.fixture(scope="session")
def isolated_cache(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """One teabox cache for the session, so builds never touch the user's cache.

    Cargo's compiled wasm32 core, alloc and std live in pytest's own cache
    (``.pytest_cache``), so Rust's std is built once per checkout, not once per
    test session: every build result is still made fresh in the session's cache.
    """
    directory = tmp_path_factory.mktemp("teabox-cache")
    cache = getattr(request.config, "cache", None)  # None with -p no:cacheprovider
    cargo_target = cache.mkdir("teabox-cargo-target") if cache is not None else directory / "cargo-target"
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("TEABOX_CACHE_DIR", str(directory))
        patch.setenv("TEABOX_CARGO_TARGET_DIR", str(cargo_target))
        yield directory


@pytest.fixture(scope="session")
def rust_available() -> None:
    try:
        find_toolchain()
    except ToolchainMissing as exc:
        pytest.skip(f"no Rust toolchain for wasm32 on this machine: {exc}")


def fixtures_dir(name: str) -> Path:
    path = FIXTURES / name
    if not path.is_dir():
        pytest.skip(f"Teaclave test vectors not found at {path}")
    return path


def run_payload(
    wasm: bytes,
    args: Mapping[str, Any] | None = None,
    inputs: Mapping[str, bytes] | None = None,
    outputs: tuple[str, ...] = (),
) -> tuple[RunResult, dict[str, bytes]]:
    """Run a payload on in-memory data; return the result and the outputs it produced."""
    captured = MemoryOutputs(outputs)
    result = Executor().run(wasm, args or {}, MemoryInputs(inputs or {}), captured)
    return result, captured.results
