"""The shipped modules are exactly what their sources build to, and the catalog matches the files."""

from __future__ import annotations

from pathlib import Path

import pytest

from teabox.abi.check import check
from teabox.builtins import BUILTINS, Builtin
from teabox.builtins.build import rebuild
from teabox.builtins.catalog import MODULES, SOURCES


@pytest.mark.parametrize("builtin", list(BUILTINS.values()), ids=list(BUILTINS))
def test_rebuilding_from_source_gives_the_shipped_module(builtin: Builtin, tmp_path: Path) -> None:
    rebuilt = rebuild(builtin, tmp_path / builtin.module.name)
    assert rebuilt == builtin.payload(), f"{builtin.module} is stale: run python -m teabox.builtins.build"
    check(rebuilt)


def test_every_source_and_module_belongs_to_a_builtin() -> None:
    stems = {builtin.stem for builtin in BUILTINS.values()}
    assert {p.stem for p in SOURCES.glob("*.c")} == stems
    assert {p.stem for p in MODULES.glob("*.wasm")} == stems
