"""The build cache: unchanged sources are not recompiled; any change that matters is."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from support.toolchain import isolated_cache  # noqa: F401  (fixture)

from teabox.toolchain import build, tool_invocations
from teabox.toolchain.cache import BuildCache

pytestmark = pytest.mark.usefixtures("isolated_cache")

MAIN = '#include "teabox.h"\n#include "value.h"\nint entrypoint(int argc, char *argv[]) { return VALUE + argc; }\n'


def project(tmp_path: Path, value: int = 1) -> Path:
    (tmp_path / "value.h").write_text(f"#define VALUE {value}\n")
    source = tmp_path / "main.c"
    source.write_text(MAIN)
    return source


def test_rebuild_of_unchanged_source_does_not_run_the_compiler(tmp_path: Path) -> None:
    source = project(tmp_path)
    first = build([source], tmp_path / "a.wasm")
    assert not first.cached
    before = tool_invocations()
    second = build([source], tmp_path / "b.wasm")
    assert second.cached
    assert tool_invocations() == before
    assert second.wasm == first.wasm == (tmp_path / "b.wasm").read_bytes()


def test_changing_an_included_header_rebuilds(tmp_path: Path) -> None:
    source = project(tmp_path, 1)
    first = build([source])
    (tmp_path / "value.h").write_text("#define VALUE 2\n")
    second = build([source])
    assert not second.cached and second.wasm != first.wasm
    assert build([source]).cached


def test_changing_the_source_or_the_options_rebuilds(tmp_path: Path) -> None:
    source = project(tmp_path)
    build([source])
    assert not build([source], size=True).cached
    assert not build([source], simd=False).cached
    source.write_text(MAIN.replace("VALUE + argc", "VALUE - argc"))
    assert not build([source]).cached


def test_same_source_next_to_a_different_header_is_built_for_its_own_header(tmp_path: Path) -> None:
    (tmp_path / "one").mkdir()
    (tmp_path / "two").mkdir()
    first = build([project(tmp_path / "one", 5)])
    second = build([project(tmp_path / "two", 9)])
    assert not second.cached and second.wasm != first.wasm


def test_a_damaged_entry_is_rebuilt_not_used(tmp_path: Path) -> None:
    source = project(tmp_path)
    first = build([source])
    cache = BuildCache()
    wasm_path = cache.directory / first.key[:2] / f"{first.key}.wasm"
    wasm_path.write_bytes(b"\0asm garbage")
    again = build([source])
    assert not again.cached and again.wasm == first.wasm
    manifest = json.loads((cache.directory / first.key[:2] / f"{first.key}.json").read_text())
    assert str(source.resolve()) in manifest["dependencies"]
    assert str((tmp_path / "value.h").resolve()) in manifest["dependencies"]
