"""Conversions between Python values and the JSON the HTTP API speaks.

The API carries bytes (keys, IVs, cmacs, tags) as lowercase hex. Teaclave's
scripts pass them as lists of ints (``key=[0] * 16``); newer code passes
``bytes``. Both must work unchanged, so every byte-valued parameter goes
through :func:`to_hex`.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, SupportsIndex

BytesLike = bytes | bytearray | memoryview | Iterable[SupportsIndex] | str


def to_bytes(value: BytesLike | None, what: str) -> bytes:
    """Accept bytes, a list of ints 0..255, or a hex string; name ``what`` in the error."""
    if value is None:
        return b""
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value)
    if isinstance(value, str):
        try:
            return bytes.fromhex(value)
        except ValueError:
            raise ValueError(f"{what} must be bytes, a list of ints or a hex string; got the text {value!r}") from None
    try:
        return bytes(value)
    except (TypeError, ValueError):
        raise ValueError(f"{what} must be bytes, a list of ints 0..255 or a hex string; got {value!r}") from None


def to_hex(value: BytesLike | None, what: str) -> str:
    return to_bytes(value, what).hex()


def from_hex(value: str | None) -> bytes | None:
    return None if value is None else bytes.fromhex(value)


def pick(obj: Any, *names: str, default: Any = None) -> Any:
    """Read the first present field from a JSON object or an object with attributes.

    Teaclave scripts pass their own little classes (``DataList(data_name,
    data_id)``) where the SDK expects ``DataMap``; reading by attribute name
    lets those objects through unchanged.
    """
    for name in names:
        if isinstance(obj, dict):
            if name in obj:
                return obj[name]
        elif hasattr(obj, name):
            return getattr(obj, name)
    return default
