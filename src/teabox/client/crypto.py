"""Client-side encryption: what a data owner does before and after a task.

An owner encrypts a local file with a key only they (and the platform, for the
run) know, registers the ciphertext with its cmac, and later decrypts the
output the task wrote for them. For ``teaclave-file-128`` the file's name is
bound into the ciphertext and must equal the last component of the URL it is
registered under; these helpers keep the two the same by construction.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from teabox import formats
from teabox.formats import CryptoInfo

DEFAULT_SCHEMA = formats.TEACLAVE_FILE_128


@dataclass(frozen=True)
class EncryptedFile:
    """A ciphertext ready to upload and register: ``name`` is the bound name to upload it under."""

    path: Path
    name: str
    crypto: CryptoInfo
    cmac: bytes


def encrypt_file(
    src: str | os.PathLike[str],
    dst: str | os.PathLike[str] | None = None,
    *,
    crypto: CryptoInfo | None = None,
    schema: str = DEFAULT_SCHEMA,
    name: str | None = None,
) -> EncryptedFile:
    """Encrypt ``src`` for registration as an input.

    Without ``crypto`` a fresh random key (and IV) is drawn for ``schema``: a new
    key per file is what keeps AES-GCM from ever reusing a nonce. ``dst``
    defaults to ``src`` plus ``.enc``; ``name`` (the bound name, and the name to
    upload under) defaults to ``dst``'s basename.
    """
    src = Path(src)
    dst = Path(dst) if dst is not None else src.with_name(src.name + ".enc")
    crypto = crypto or CryptoInfo.random(schema)
    name = name or dst.name
    cmac = formats.encrypt(crypto, src, dst, name=name)
    return EncryptedFile(path=dst, name=name, crypto=crypto, cmac=cmac)


def decrypt_file(
    src: str | os.PathLike[str],
    dst: str | os.PathLike[str],
    *,
    crypto: CryptoInfo,
    name: str | None = None,
    expected_cmac: bytes | None = None,
) -> bytes | None:
    """Decrypt a downloaded file, checking it against ``expected_cmac`` when given.

    ``name`` is the bound name (the last component of the file's URL) for
    ``teaclave-file-128``. Raises :class:`teabox.formats.IntegrityError` for a
    wrong key, a tampered file or a cmac mismatch, and writes nothing then.
    """
    return formats.decrypt(crypto, src, dst, name=name, expected_cmac=expected_cmac)


def verify_file(src: str | os.PathLike[str], *, crypto: CryptoInfo, name: str | None = None) -> bytes | None:
    """Check an encrypted file completely and return its cmac (None for ``raw``): the value to register."""
    return formats.verify(crypto, src, name=name)
