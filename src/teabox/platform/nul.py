"""NUL characters in what a caller sends: refused at the platform's edge, the same on every database.

PostgreSQL's text types cannot hold U+0000 (SQLite's can), so a NUL that reached a statement
would be a 500 on one database and stored on the other. No field of the platform's needs one
(names, ids, URLs, arguments the guest gets as C strings), so every operation refuses them
before it runs, naming the field.
"""

from __future__ import annotations

from typing import Any

from teabox.platform.errors import MalformedRequest


def nul_field(value: Any) -> str | None:
    """The path (``inputs[0].data_name``) of the first string in ``value`` holding a NUL, or None.

    Iterative, so that no nesting depth can exhaust the stack; keys are checked as well as values.
    """
    pending: list[tuple[str, Any]] = [("", value)]
    while pending:
        path, item = pending.pop()
        if isinstance(item, str):
            if "\x00" in item:
                return path or "the value"
        elif isinstance(item, dict):
            for key, child in item.items():
                if isinstance(key, str) and "\x00" in key:
                    return f"a key of {path or 'the request'}"
                pending.append((f"{path}.{key}" if path else str(key), child))
        elif isinstance(item, list | tuple):
            pending.extend((f"{path}[{index}]", child) for index, child in enumerate(item))
    return None


def nul_refusal(params: dict[str, Any]) -> MalformedRequest | None:
    """The refusal (400) naming the first field of ``params`` that holds a NUL character, or None."""
    field = nul_field(params)
    if field is None:
        return None
    return MalformedRequest(
        f"{field} contains a NUL character (U+0000), which the platform does not store", "invalid_text"
    )
