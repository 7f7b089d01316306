"""Teaclave's dict view of the SDK's records, so Teaclave scripts that index them run unchanged.

Teaclave's SDK answered ``get_task`` and ``list_functions`` with protobuf
messages turned into dicts (proto field names, enums as numbers, bytes as
base64), and scripts index them: ``task["status"] == 10``,
``functions["registered_functions"]``, ``function["payload"]``. teabox's records
keep their typed attributes (``task.status`` is ``"Finished"``) and are also
read-only mappings with Teaclave's keys, value shapes and numbers.
"""

from __future__ import annotations

import base64
from collections.abc import Callable, Iterator, Mapping
from typing import Any

from teabox.teaclave_status import TeaclaveTaskStatus as TaskStatus

__all__ = ["Lazy", "TaskStatus", "TeaclaveMapping", "b64"]


class Lazy:
    """A value fetched from the server only when its key is read (a function's payload)."""

    def __init__(self, load: Callable[[], Any]) -> None:
        self._load = load
        self._value: Any = None
        self._loaded = False

    def get(self) -> Any:
        if not self._loaded:
            self._value, self._loaded = self._load(), True
        return self._value


class TeaclaveMapping(Mapping[str, Any]):
    """Read-only ``record["key"]`` access in Teaclave's shape; subclasses say what that shape is."""

    def teaclave_dict(self) -> dict[str, Any]:
        """The record as Teaclave's SDK returned it (lazy values are fetched here)."""
        return {key: self[key] for key in self}

    def _teaclave_shape(self) -> dict[str, Any]:
        raise NotImplementedError

    def __getitem__(self, key: str) -> Any:
        value = self._teaclave_shape()[key]
        return value.get() if isinstance(value, Lazy) else value

    def __contains__(self, key: object) -> bool:
        return key in self._teaclave_shape()  # without fetching a lazy value

    def __iter__(self) -> Iterator[str]:
        return iter(self._teaclave_shape())

    def __len__(self) -> int:
        return len(self._teaclave_shape())


def b64(data: bytes) -> str:
    """Bytes as protobuf's JSON mapping writes them."""
    return base64.b64encode(data).decode()
