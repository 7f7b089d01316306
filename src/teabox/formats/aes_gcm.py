"""The ``aes-gcm-128`` and ``aes-gcm-256`` file formats.

A file is the AES-GCM ciphertext of the whole plaintext followed by the 16-byte
tag, with 8 zero bytes of additional authenticated data (Teaclave's choice;
without them Teaclave's tags do not verify). The tag is the file's "cmac".

Both directions stream through OpenSSL in 256 KiB chunks with reused buffers, so
memory stays constant and throughput is close to the cipher's own. Because a
GCM tag can only be checked after the last byte, decryption must write into a
staging destination that the caller releases only once this returns.
"""

from __future__ import annotations

import hmac
from typing import BinaryIO

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from teabox.formats.errors import FormatError, IntegrityError
from teabox.formats.streams import CHUNK, Progress

AAD = bytes(8)
TAG_SIZE = 16
# update_into may need up to one block more than its input.
_SLACK = 15


def encrypt_stream(key: bytes, iv: bytes, src: BinaryIO, dst: BinaryIO, progress: Progress | None = None) -> bytes:
    """Encrypt all of ``src`` into ``dst`` (ciphertext then tag); return the tag."""
    encryptor = Cipher(algorithms.AES(key), modes.GCM(iv)).encryptor()
    encryptor.authenticate_additional_data(AAD)
    inbuf = memoryview(bytearray(CHUNK))
    outbuf = bytearray(CHUNK + _SLACK)
    outview = memoryview(outbuf)
    while n := src.readinto(inbuf):  # type: ignore[attr-defined]
        produced = encryptor.update_into(inbuf[:n], outbuf)
        dst.write(outview[:produced])
        if progress:
            progress(n)
    encryptor.finalize()
    tag = encryptor.tag
    dst.write(tag)
    return tag


def decrypt_stream(
    key: bytes,
    iv: bytes,
    src: BinaryIO,
    dst: BinaryIO | None,
    *,
    label: str,
    expected_cmac: bytes | None = None,
    progress: Progress | None = None,
) -> bytes:
    """Decrypt ``src`` into ``dst`` (or only check it, if ``dst`` is None); return the tag.

    The last 16 bytes are held back while streaming because they are the tag,
    which also lets non-seekable sources work. Raises :class:`IntegrityError`
    if the tag differs from ``expected_cmac`` or does not authenticate the
    ciphertext; the caller must then discard whatever reached ``dst``.
    """
    decryptor = Cipher(algorithms.AES(key), modes.GCM(iv)).decryptor()
    decryptor.authenticate_additional_data(AAD)
    buf = bytearray(TAG_SIZE + CHUNK)
    view = memoryview(buf)
    outbuf = bytearray(CHUNK + TAG_SIZE + _SLACK)
    outview = memoryview(outbuf)
    held = 0  # bytes at the front of buf that may turn out to be the tag
    while n := src.readinto(view[held : held + CHUNK]):  # type: ignore[attr-defined]
        total = held + n
        if total > TAG_SIZE:
            body = total - TAG_SIZE
            produced = decryptor.update_into(view[:body], outbuf)
            if dst is not None:
                dst.write(outview[:produced])
            buf[:TAG_SIZE] = buf[body:total]
            held = TAG_SIZE
        else:
            held = total
        if progress:
            progress(n)
    if held < TAG_SIZE:
        raise FormatError(
            "file length", f"{held} bytes is shorter than the {TAG_SIZE}-byte GCM tag every file ends with", file=label
        )
    tag = bytes(buf[:TAG_SIZE])
    if expected_cmac is not None and not hmac.compare_digest(tag, expected_cmac):
        raise IntegrityError(
            "cmac", f"the file's tag {tag.hex()} is not the registered cmac {expected_cmac.hex()}", file=label
        )
    try:
        decryptor.finalize_with_tag(tag)
    except InvalidTag:
        raise IntegrityError(
            "gcm tag",
            "the tag does not authenticate the content: wrong key or IV, or the file was modified",
            file=label,
        ) from None
    return tag
