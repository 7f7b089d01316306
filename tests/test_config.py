"""teabox.config: every environment variable is read through it, and docs/configuration.md shows it."""

from __future__ import annotations

import ast
import importlib
import re
from pathlib import Path

import pytest

from teabox import config
from teabox.cli.serve import serve_command
from teabox.executor.cache import default_max_disk_bytes

ROOT = Path(__file__).resolve().parents[1]
SRC = ROOT / "src" / "teabox"
DOC = (ROOT / "docs" / "configuration.md").read_text()


def _reads_of_the_environment(tree: ast.AST) -> list[int]:
    """Lines that read one variable (``os.environ[...]``, ``os.environ.get``, ``os.getenv``); copying the
    whole environment for a child process (``**os.environ``, ``os.environ.items()``) reads none."""
    lines = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and node.attr == "getenv":
            lines.append(node.lineno)
        if isinstance(node, ast.Subscript | ast.Attribute) and ast.unparse(node.value) == "os.environ":
            if not (isinstance(node, ast.Attribute) and node.attr == "items"):
                lines.append(node.lineno)
    return lines


def test_no_module_but_config_reads_an_environment_variable() -> None:
    found = {}
    for path in SRC.rglob("*.py"):
        if path.name == "config.py" and path.parent == SRC:
            continue
        tree = ast.parse(path.read_text())
        literal = [
            k.value.lineno
            for k in ast.walk(tree)
            if isinstance(k, ast.keyword) and k.arg == "envvar" and isinstance(k.value, ast.Constant)
        ]
        if lines := _reads_of_the_environment(tree) + literal:
            found[str(path.relative_to(SRC))] = lines
    assert found == {}, "read variables through teabox.config (and name them there)"


def test_every_teabox_variable_the_docs_name_is_defined() -> None:
    """teabox's in teabox.config; the test suite's and the examples' in their own section of the doc."""
    outside = set(re.findall(r"`(TEABOX_[A-Z_]+)`", DOC.split("## The test suite and the examples", 1)[1]))
    names = {variable.name for variable in config.VARIABLES} | outside
    mentioned = set()
    for doc in [ROOT / "README.md", *(ROOT / "docs").glob("*.md")]:
        mentioned |= set(re.findall(r"\bTEABOX_[A-Z_]+[A-Z]\b", doc.read_text()))
    assert mentioned - names == set()


def test_the_doc_shows_the_modules_table() -> None:
    assert config.markdown_table() in DOC, "refresh docs/configuration.md from `python -m teabox.config`"
    assert len({variable.name for variable in config.VARIABLES}) == len(config.VARIABLES)


def test_the_options_and_classes_the_doc_points_to_exist() -> None:
    options = {option for parameter in serve_command.params for option in parameter.opts}
    for option in re.findall(r"`(--[a-z-]+)`", DOC.split("## The server's settings", 1)[1]):
        assert option in options, option
    for dotted in re.findall(r"`(teabox(?:\.\w+)+)`", DOC):
        module, _, name = dotted.rpartition(".")
        try:
            importlib.import_module(dotted)
        except ModuleNotFoundError:
            assert hasattr(importlib.import_module(module), name), dotted


def test_an_empty_variable_is_unset(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TEABOX_URL", "")
    assert config.URL.get() is None
    monkeypatch.setenv("TEABOX_URL", "http://elsewhere:1")
    assert config.URL.get() == "http://elsewhere:1"


@pytest.mark.parametrize(("value", "message"), [("lots", "a whole number, not 'lots'"), ("0", "at least 1, not 0")])
def test_a_bad_number_names_the_variable(monkeypatch: pytest.MonkeyPatch, value: str, message: str) -> None:
    monkeypatch.setenv("TEABOX_CACHE_MAX_BYTES", value)
    with pytest.raises(config.ConfigError, match=f"TEABOX_CACHE_MAX_BYTES must be {message}"):
        default_max_disk_bytes()
    monkeypatch.setenv("TEABOX_CACHE_MAX_BYTES", "4096")
    assert default_max_disk_bytes() == 4096
