"""Teaclave's encrypted file formats, read and written bit for bit.

``aes-gcm-128``, ``aes-gcm-256`` and ``teaclave-file-128`` files made here open
in Teaclave and vice versa; ``raw`` plaintext is accepted as input only. See
``docs/file-formats.md``.
"""

from teabox.formats.api import decrypt, encrypt, verify
from teabox.formats.crypto_info import (
    AES_GCM_128,
    AES_GCM_256,
    RAW,
    SCHEMAS,
    TEACLAVE_FILE_128,
    CryptoInfo,
    generate_iv,
    generate_key,
)
from teabox.formats.errors import FileCheckError, FormatError, IntegrityError

__all__ = [
    "AES_GCM_128",
    "AES_GCM_256",
    "RAW",
    "SCHEMAS",
    "TEACLAVE_FILE_128",
    "CryptoInfo",
    "FileCheckError",
    "FormatError",
    "IntegrityError",
    "decrypt",
    "encrypt",
    "generate_iv",
    "generate_key",
    "verify",
]
