"""Which format a file is in and the owner's key material for it.

Teaclave registers every file with a ``(schema, key, iv)`` triple; teabox keeps
the same triple so that files and registrations move between the two
unchanged. Validation happens here, once, so that the codecs can assume
correct lengths and every caller gets the same error for the same mistake.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from typing import Protocol

from teabox.formats.errors import FormatError

AES_GCM_128 = "aes-gcm-128"
AES_GCM_256 = "aes-gcm-256"
TEACLAVE_FILE_128 = "teaclave-file-128"
RAW = "raw"


@dataclass(frozen=True)
class Schema:
    """Key and IV lengths of one schema, and whether teabox may write it."""

    name: str
    key_size: int
    iv_size: int
    writable: bool


SCHEMAS: dict[str, Schema] = {
    s.name: s
    for s in (
        Schema(AES_GCM_128, key_size=16, iv_size=12, writable=True),
        Schema(AES_GCM_256, key_size=32, iv_size=12, writable=True),
        Schema(TEACLAVE_FILE_128, key_size=16, iv_size=0, writable=True),
        # Plaintext: accepted for inputs only, so that no output ever leaves unencrypted.
        Schema(RAW, key_size=0, iv_size=0, writable=False),
    )
}


class CryptoSpecLike(Protocol):
    """Anything shaped like a registration: the platform's records (frozen dataclasses) qualify."""

    @property
    def schema(self) -> str: ...

    @property
    def key(self) -> bytes: ...

    @property
    def iv(self) -> bytes: ...


def schema_of(name: str) -> Schema:
    """The :class:`Schema` called ``name``, or a :class:`FormatError` listing the known ones."""
    try:
        return SCHEMAS[name]
    except KeyError:
        known = ", ".join(SCHEMAS)
        raise FormatError("schema", f"unknown schema {name!r}; expected one of {known}") from None


def generate_key(schema: str) -> bytes:
    """A fresh uniformly random key of the right length for ``schema``."""
    return secrets.token_bytes(schema_of(schema).key_size)


def generate_iv(schema: str) -> bytes:
    """A fresh random IV for ``schema`` (empty for schemas that take none).

    A random 96-bit IV per encryption is what keeps teabox from ever using a
    GCM (key, IV) pair twice for the keys it generates itself.
    """
    return secrets.token_bytes(schema_of(schema).iv_size)


def _length_error(what: str, schema: Schema, expected: int, got: int) -> FormatError:
    if expected == 0:
        need = f"takes no {what} (it must be empty)"
    else:
        need = f"needs a {expected}-byte {what} ({2 * expected} hex digits)"
    return FormatError(f"{what} length", f"{schema.name} {need}, got {got} bytes")


def _decode_hex(what: str, text: str) -> bytes:
    try:
        return bytes.fromhex(text)
    except ValueError:
        raise FormatError(what, f"{what} is not hexadecimal: {text!r}") from None


@dataclass(frozen=True)
class CryptoInfo:
    """A validated ``(schema, key, iv)``; the key is kept out of ``repr``."""

    schema: str
    key: bytes = field(repr=False)
    iv: bytes = b""

    def __post_init__(self) -> None:
        spec = schema_of(self.schema)
        for what in ("key", "iv"):
            value = getattr(self, what)
            if not isinstance(value, (bytes, bytearray, memoryview)):
                raise FormatError(what, f"{what} must be bytes, got {type(value).__name__}")
            object.__setattr__(self, what, bytes(value))
        if len(self.key) != spec.key_size:
            raise _length_error("key", spec, spec.key_size, len(self.key))
        if len(self.iv) != spec.iv_size:
            raise _length_error("iv", spec, spec.iv_size, len(self.iv))

    @property
    def spec(self) -> Schema:
        return SCHEMAS[self.schema]

    @classmethod
    def random(cls, schema: str) -> CryptoInfo:
        """Fresh key and IV: what an owner should use for each new file."""
        return cls(schema, generate_key(schema), generate_iv(schema))

    @classmethod
    def from_hex(cls, schema: str, key: str, iv: str = "") -> CryptoInfo:
        """Parse the hex strings that Teaclave's command line and API use."""
        return cls(schema, _decode_hex("key", key), _decode_hex("iv", iv))

    @classmethod
    def of(cls, spec: CryptoInfo | CryptoSpecLike) -> CryptoInfo:
        """Validate any registration-shaped object (e.g. the platform's ``CryptoSpec``)."""
        if isinstance(spec, CryptoInfo):
            return spec
        return cls(spec.schema, spec.key, spec.iv)
