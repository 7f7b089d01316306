"""What the SDK's :class:`~teabox.client.Client` sends and reads, read from its source.

Each public method's calls to the server are found in its syntax tree, through
the private helpers it calls: which operation, which body keys or query
parameters it sends, which keys of the answer it reads, and which result
class of :mod:`teabox.client.results` it builds from the answer (or from one
field of it). The contract tests hold all of it against the service's models.
"""

from __future__ import annotations

import ast
import inspect
from dataclasses import dataclass, field

from teabox.client import client as client_module


@dataclass
class Call:
    operation: str
    kind: str  # "call", "upload" or "download"
    sent: set[str] | None  # body keys or query parameters; None when the source does not show them all
    read: set[str] = field(default_factory=set)
    built: list[tuple[str, str | None]] = field(default_factory=list)  # (result class, answer field or None)


@dataclass
class Method:
    name: str
    calls: list[Call]
    helpers: set[str]  # the other Client methods it calls

    @property
    def public(self) -> bool:
        return not self.name.startswith("_")


def client_methods() -> dict[str, Method]:
    tree = ast.parse(inspect.getsource(client_module))
    client = next(n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == "Client")
    # _call is the plumbing every other method's RPC goes through: it names no operation itself.
    functions = {n.name: n for n in client.body if isinstance(n, ast.FunctionDef) and n.name != "_call"}
    return {name: _method(node, functions) for name, node in functions.items()}


def operations_of(methods: dict[str, Method], name: str) -> set[str]:
    """The operations method ``name`` calls, itself or through its helpers."""
    seen: set[str] = set()
    pending = [name]
    found: set[str] = set()
    while pending:
        current = pending.pop()
        if current in seen or current not in methods:
            continue
        seen.add(current)
        found |= {call.operation for call in methods[current].calls}
        pending.extend(methods[current].helpers)
    return found


def _method(node: ast.FunctionDef, functions: dict[str, ast.FunctionDef]) -> Method:
    parents = {child: parent for parent in ast.walk(node) for child in ast.iter_child_nodes(parent)}
    calls: list[Call] = []
    helpers: set[str] = set()
    for sub in ast.walk(node):
        if not isinstance(sub, ast.Call) or not isinstance(sub.func, ast.Attribute):
            continue
        target = sub.func
        if _on(target.value, "self") and target.attr == "_call":
            call = _rpc(sub, node, functions)
        elif _on(target.value, "self") and target.attr in functions:
            helpers.add(target.attr)
            continue
        elif (
            isinstance(target.value, ast.Attribute)
            and _on(target.value.value, "self")
            and target.value.attr == ("_transport")
            and target.attr in _TRANSPORT
        ):
            call = _transport(sub, target.attr)
        else:
            continue
        _follow_answer(sub, call, node, parents)
        calls.append(call)
    return Method(node.name, calls, helpers)


_TRANSPORT = frozenset({"call", "upload", "download"})


def _on(node: ast.expr, name: str) -> bool:
    return isinstance(node, ast.Name) and node.id == name


def _literal(node: ast.expr) -> str:
    assert isinstance(node, ast.Constant) and isinstance(node.value, str), ast.dump(node)
    return node.value


def _rpc(node: ast.Call, method: ast.FunctionDef, functions: dict[str, ast.FunctionDef]) -> Call:
    sent: set[str] | None = set()
    for keyword in node.keywords:
        if keyword.arg is not None:
            sent.add(keyword.arg)
        elif isinstance(keyword.value, ast.Name):
            built = _keys_built_for(keyword.value.id, method, functions)
            sent = None if built is None or sent is None else sent | built
        else:
            sent = None
    return Call(_literal(node.args[0]), "call", sent)


def _transport(node: ast.Call, attr: str) -> Call:
    operation = _literal(node.args[0])
    if attr == "call":
        return Call(operation, "call", _dict_keys(node.args[1]) if len(node.args) > 1 else set())
    if attr == "download":
        return Call(operation, "download", _dict_keys(node.args[1]))
    params = next((k.value for k in node.keywords if k.arg == "params"), None)
    return Call(operation, "upload", _dict_keys(params) if params is not None else set())


def _dict_keys(node: ast.expr) -> set[str] | None:
    if not isinstance(node, ast.Dict) or any(key is None for key in node.keys):
        return None
    return {_literal(key) for key in node.keys if key is not None}


def _keys_built_for(name: str, method: ast.FunctionDef, functions: dict[str, ast.FunctionDef]) -> set[str] | None:
    """The keys of the dict ``name`` holds in ``method``: returned by a helper that builds it from literals."""
    for sub in ast.walk(method):
        if isinstance(sub, ast.Assign) and any(isinstance(t, ast.Name) and t.id == name for t in sub.targets):
            value = sub.value
            if isinstance(value, ast.Call) and isinstance(value.func, ast.Attribute) and value.func.attr in functions:
                return _keys_of_returned_dict(functions[value.func.attr])
    return None


def _keys_of_returned_dict(helper: ast.FunctionDef) -> set[str] | None:
    returned = next((s.value for s in ast.walk(helper) if isinstance(s, ast.Return) and s.value is not None), None)
    if not isinstance(returned, ast.Name):
        return None
    keys: set[str] = set()
    for sub in ast.walk(helper):
        if isinstance(sub, (ast.Assign, ast.AnnAssign)):
            targets = sub.targets if isinstance(sub, ast.Assign) else [sub.target]
            for target in targets:
                if isinstance(target, ast.Name) and target.id == returned.id:
                    built = _dict_keys(sub.value) if sub.value is not None else None
                    if built is None:
                        return None
                    keys |= built
                elif (
                    isinstance(target, ast.Subscript)
                    and isinstance(target.value, ast.Name)
                    and target.value.id == returned.id
                ):
                    keys.add(_literal(target.slice))
    return keys


def _follow_answer(node: ast.Call, call: Call, method: ast.FunctionDef, parents: dict[ast.AST, ast.AST]) -> None:
    """Record what is done with the answer: keys read, result classes built."""
    uses: list[ast.expr] = [node]
    parent = parents.get(node)
    if isinstance(parent, ast.Assign) and isinstance(parent.targets[0], ast.Name):
        name = parent.targets[0].id
        uses = [n for n in ast.walk(method) if isinstance(n, ast.Name) and n.id == name and n is not parent.targets[0]]
    elif isinstance(parent, ast.withitem) and isinstance(parent.optional_vars, ast.Name):
        return  # a download: the answer is the file's bytes
    for use in uses:
        outer = parents.get(use)
        if isinstance(outer, ast.Subscript) and outer.value is use:
            key = _literal(outer.slice)
            call.read.add(key)
            _built_from_items(outer, key, call, method, parents)
        elif _is_from_json(outer) and isinstance(outer, ast.Call):
            assert isinstance(outer.func, ast.Attribute) and isinstance(outer.func.value, ast.Name)
            call.built.append((outer.func.value.id, None))


def _built_from_items(
    subscript: ast.Subscript, key: str, call: Call, method: ast.FunctionDef, parents: dict[ast.AST, ast.AST]
) -> None:
    """``[X.from_json(item) for item in answer["key"]]``: X is built from each item of field ``key``."""
    comprehension = parents.get(subscript)
    if not isinstance(comprehension, ast.comprehension) or not isinstance(comprehension.target, ast.Name):
        return
    element = parents.get(comprehension)
    if isinstance(element, (ast.ListComp, ast.GeneratorExp)) and _is_from_json(element.elt):
        assert isinstance(element.elt, ast.Call) and isinstance(element.elt.func, ast.Attribute)
        assert isinstance(element.elt.func.value, ast.Name)
        call.built.append((element.elt.func.value.id, key))


def _is_from_json(node: ast.AST | None) -> bool:
    return isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "from_json"
