"""The small value classes a caller builds requests from.

Names, parameter order and defaults follow Teaclave's Python SDK so that its
example scripts port without edits to their bodies: ``FunctionArgument("k")``
means an overwritable argument with default ``""``, exactly as there.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from typing import Any

from teabox.client.wire import pick


@dataclass(frozen=True)
class FunctionArgument:
    """An argument a function declares; the task creator may set it if ``allow_overwrite``."""

    key: str
    default_value: str = ""
    allow_overwrite: bool = True

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class _DataDeclaration:
    name: str
    description: str = ""
    optional: bool = False

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class FunctionInput(_DataDeclaration):
    """An input file a function reads, by data name; an optional one need not be bound."""


@dataclass(frozen=True)
class FunctionOutput(_DataDeclaration):
    """An output file a function writes, by data name; an optional one need not be bound."""


@dataclass(frozen=True)
class OwnerList:
    """Who must own the file bound to ``data_name`` in a task (every one of them approves)."""

    data_name: str
    uids: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {"data_name": self.data_name, "uids": list(self.uids)}


@dataclass(frozen=True)
class DataMap:
    """Binds a registered file (``data_id``) to a task's data name."""

    data_name: str
    data_id: str

    def to_json(self) -> dict[str, Any]:
        return {"data_name": self.data_name, "data_id": self.data_id}


def declarations_json(
    items: Iterable[Any], kind: type[FunctionArgument] | type[_DataDeclaration]
) -> list[dict[str, Any]]:
    """Serialise FunctionArgument/Input/Output lists; plain dicts and look-alike objects pass too."""
    out = []
    for item in items:
        if isinstance(item, kind):
            out.append(item.to_json())
        elif kind is FunctionArgument:
            out.append(
                FunctionArgument(
                    pick(item, "key"),
                    pick(item, "default_value", default=""),
                    pick(item, "allow_overwrite", default=True),
                ).to_json()
            )
        else:
            out.append(
                kind(
                    pick(item, "name"), pick(item, "description", default=""), pick(item, "optional", default=False)
                ).to_json()
            )
    return out


def owners_json(items: Iterable[Any]) -> list[dict[str, Any]]:
    return [{"data_name": pick(i, "data_name"), "uids": list(pick(i, "uids", default=[]))} for i in items]


def data_map_json(items: Iterable[Any]) -> list[dict[str, Any]]:
    return [{"data_name": pick(i, "data_name"), "data_id": pick(i, "data_id")} for i in items]
