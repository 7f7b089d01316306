"""File keys at rest: each registered file's key and IV sealed under the platform key.

The database holds the key and IV of every registered file, so a copy of the
database alone (a backup, a disk image, a file left readable) would hand over
every owner's plaintext. The database therefore holds them only sealed
(envelope encryption): AES-256-GCM under a *platform key* kept apart from the
database, with a fresh random nonce per sealed value and the file's id as
associated data, so that a sealed value moved to another row does not open.

The platform key comes from the environment variable ``TEABOX_PLATFORM_KEY``
(64 hex digits) when it is set, and otherwise from the file ``platform.key``
in the data directory (mode 0600), which the first start creates. Keeping the
key in the environment (or on another disk) means a copy of the whole data
directory reveals no key either. Random 96-bit nonces under one key are safe
for far more sealed values than a platform registers (the AES-GCM bound is
2**32).
"""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from teabox import config
from teabox.errors import TeaboxError
from teabox.platform.private_files import create_private_file, refuse_if_shared

ENV_VAR = config.PLATFORM_KEY.name
KEY_FILE = "platform.key"
KEY_BYTES = 32
_FORMAT = b"\x01"  # first byte of a sealed value: how it was sealed
_NONCE_BYTES = 12
_GENERATE = "python -c 'import secrets; print(secrets.token_hex(32))'"


class PlatformKeyError(TeaboxError):
    """The platform key is missing, malformed or not the one the database's keys were sealed with."""


@dataclass(frozen=True)
class FileKeys:
    """Seals and opens file keys; ``source`` says where the platform key came from (for messages)."""

    platform_key: bytes
    source: str
    new: bool = False  # this start created the key file

    def __post_init__(self) -> None:
        if len(self.platform_key) != KEY_BYTES:
            raise PlatformKeyError(f"the platform key from {self.source} must be {KEY_BYTES} bytes")

    @classmethod
    def load(cls, data_dir: Path) -> FileKeys:
        """The platform key from ``TEABOX_PLATFORM_KEY``, else from ``data_dir/platform.key`` (created if absent)."""
        given = config.PLATFORM_KEY.get()
        if given is not None:
            return cls(_parse_hex(given.strip(), f"the environment variable {ENV_VAR}"), f"${ENV_VAR}")
        path = Path(data_dir) / KEY_FILE
        new = not path.exists() and _create_key_file(path)
        refuse_if_shared(path, "platform key file")
        return cls(_parse_hex(path.read_text().strip(), str(path)), str(path), new)

    def seal(self, file_id: str, key: bytes, iv: bytes) -> bytes:
        """``key`` and ``iv`` sealed for the file ``file_id``: format byte, nonce, ciphertext and tag."""
        nonce = os.urandom(_NONCE_BYTES)
        plain = bytes([len(key)]) + key + iv
        return _FORMAT + nonce + AESGCM(self.platform_key).encrypt(nonce, plain, _associated(file_id))

    def open(self, file_id: str, sealed: bytes) -> tuple[bytes, bytes]:
        """The (key, IV) sealed for ``file_id``; PlatformKeyError if it does not open with this platform key."""
        sealed = bytes(sealed)
        nonce, body = sealed[1 : 1 + _NONCE_BYTES], sealed[1 + _NONCE_BYTES :]
        try:
            if sealed[:1] != _FORMAT:
                raise InvalidTag
            plain = AESGCM(self.platform_key).decrypt(nonce, body, _associated(file_id))
        except InvalidTag:
            raise PlatformKeyError(
                f"the key of file {file_id} does not open with the platform key from {self.source}: "
                f"the database's keys were sealed with another platform key ({ENV_VAR} or {KEY_FILE})"
            ) from None
        length = plain[0]
        return plain[1 : 1 + length], plain[1 + length :]


def _associated(file_id: str) -> bytes:
    return b"teabox file key\x00" + file_id.encode()


def _parse_hex(text: str, where: str) -> bytes:
    try:
        key = bytes.fromhex(text)
    except ValueError:
        key = b""
    if len(key) != KEY_BYTES:
        raise PlatformKeyError(
            f"{where} must hold a platform key of {KEY_BYTES * 2} hex digits; generate one with: {_GENERATE}"
        )
    return key


def _create_key_file(path: Path) -> bool:
    """Write a new key beside ``path`` and link it into place, so that a concurrent starter never reads half a key.

    Returns whether this call's key is the one in place.
    """
    partial = path.with_name(f".{KEY_FILE}.{os.getpid()}.{secrets.token_hex(4)}")
    descriptor = create_private_file(partial)
    try:
        with os.fdopen(descriptor, "w") as file:
            file.write(secrets.token_hex(KEY_BYTES) + "\n")
            file.flush()
            os.fsync(file.fileno())
        try:
            os.link(partial, path)
        except FileExistsError:
            return False  # another process created it first: use theirs
        return True
    finally:
        partial.unlink(missing_ok=True)
