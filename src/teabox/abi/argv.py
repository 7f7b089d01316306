"""How task arguments reach ``entrypoint(argc, argv)``.

Teaclave's own payloads read values at fixed positions (``argv[1]``,
``argv[3]``), so the key order is part of the ABI: keys sorted by their UTF-8
bytes, each followed by its value.
"""

from __future__ import annotations

import json
import struct
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from teabox.errors import InvalidArguments


def argument_text(value: Any) -> str:
    """A string value passes as is; any other JSON value as its compact JSON text."""
    if isinstance(value, str):
        return value
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def argv_strings(args: Mapping[str, Any]) -> list[bytes]:
    """The flat ``[k1, v1, k2, v2, ...]`` list, sorted by key, as UTF-8 bytes."""
    strings: list[bytes] = []
    for key in sorted(args, key=lambda k: k.encode("utf-8")):
        if not isinstance(key, str):
            raise InvalidArguments(f"argument key {key!r} is not a string")
        value = argument_text(args[key])
        for what, text in (("key", key), ("value", value)):
            if "\0" in text:
                raise InvalidArguments(f"argument {what} {text!r} (key {key!r}) contains a NUL byte")
        strings += [key.encode("utf-8"), value.encode("utf-8")]
    return strings


@dataclass(frozen=True)
class ArgvBlock:
    """The bytes to copy into linear memory at ``base``, and where argv points."""

    data: bytes
    argc: int
    argv_address: int


def layout_argv(strings: list[bytes], base: int) -> ArgvBlock:
    """Pack NUL-terminated strings followed by the pointer array (with a trailing NULL)."""
    blob = bytearray()
    pointers = []
    for s in strings:
        pointers.append(base + len(blob))
        blob += s + b"\0"
    blob += b"\0" * (-len(blob) % 4)
    argv_address = base + len(blob)
    blob += struct.pack(f"<{len(pointers) + 1}I", *pointers, 0)
    return ArgvBlock(bytes(blob), len(strings), argv_address)
