"""The error tree drawn in teabox.errors' docstring is the real one, and no public exception name is defined twice."""

from __future__ import annotations

import importlib
import inspect
import pkgutil
import re
from collections import defaultdict

import teabox
import teabox.errors
from teabox.errors import TeaboxError


def _modules() -> list[object]:
    names = [
        info.name
        for info in pkgutil.walk_packages(teabox.__path__, "teabox.")
        if not info.name.endswith("__main__") and ".examples" not in info.name
    ]
    return [importlib.import_module(name) for name in names]


def _edges(root: type[BaseException]) -> set[tuple[str, str, str]]:
    """(parent, class, module) for every class below root that teabox defines."""
    found = set()
    for sub in root.__subclasses__():
        if sub.__module__.startswith("teabox."):
            found |= {(root.__name__, sub.__name__, sub.__module__)} | _edges(sub)
    return found


def _drawn() -> set[tuple[str, str, str]]:
    doc = teabox.errors.__doc__ or ""
    lines = re.findall(r"^( +)(\w+) +(teabox[\w.]*)$", doc, re.MULTILINE)
    parents: list[tuple[int, str]] = []
    edges = set()
    for indent, name, module in lines:
        while parents and parents[-1][0] >= len(indent):
            parents.pop()
        if parents:
            edges.add((parents[-1][1], name, module))
        parents.append((len(indent), name))
    return edges


def test_the_docstring_draws_every_teabox_error_under_its_parent() -> None:
    _modules()
    real = _edges(TeaboxError)
    assert real, "no subclass of TeaboxError found"
    assert _drawn() == real


def test_no_public_exception_name_is_defined_in_two_modules() -> None:
    where: dict[str, set[str]] = defaultdict(set)
    for module in _modules():
        for name, value in vars(module).items():
            if inspect.isclass(value) and issubclass(value, BaseException) and not name.startswith("_"):
                if value.__module__.startswith("teabox.") and value.__name__ == name:
                    where[name].add(value.__module__)
    assert {name: modules for name, modules in where.items() if len(modules) > 1} == {}
