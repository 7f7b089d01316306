"""``encrypt``, ``decrypt`` and ``verify`` for every format teabox supports.

This is the one entry point the CLI, the worker and the client use, so the
rules that make files safe to hand around live here rather than in each
caller: outputs are staged and put in place only when complete, decrypted
plaintext is released only after every integrity check passed (including the
registered cmac), and ``raw`` is never written.
"""

from __future__ import annotations

from typing import BinaryIO

from teabox.formats import aes_gcm, pfs_reader, pfs_writer, raw
from teabox.formats.crypto_info import RAW, TEACLAVE_FILE_128, CryptoInfo, CryptoSpecLike
from teabox.formats.errors import FormatError
from teabox.formats.pfs_layout import encode_name
from teabox.formats.streams import PathOrFile, Progress, basename_of, describe, open_source, staged_destination

CMAC_SIZE = 16


def _bound_name(name: str | None, file: PathOrFile) -> str:
    """The name a teaclave-file-128 file is bound to: explicit, or ``file``'s basename.

    Checked here, before any file is opened or staged.
    """
    if name is None:
        name = basename_of(file)
    if not name:
        raise FormatError(
            "file name",
            "teaclave-file-128 binds a file name, and this stream has none: pass name=",
            file=describe(file),
        )
    encode_name(name, file=describe(file))
    return name


def _as_cmac(value: bytes | str | None, info: CryptoInfo, label: str) -> bytes | None:
    """Accept a registered cmac as bytes or hex; raw files have none to check."""
    if value is None:
        return None
    if info.schema == RAW:
        raise FormatError("cmac", "raw files carry no integrity tag, so no cmac can be checked", file=label)
    if isinstance(value, str):
        try:
            value = bytes.fromhex(value)
        except ValueError:
            raise FormatError("cmac", f"the cmac is not hexadecimal: {value!r}", file=label) from None
    if len(value) != CMAC_SIZE:
        raise FormatError("cmac length", f"a cmac is {CMAC_SIZE} bytes, got {len(value)}", file=label)
    return bytes(value)


def encrypt(
    info: CryptoInfo | CryptoSpecLike,
    src: PathOrFile,
    dst: PathOrFile,
    *,
    name: str | None = None,
    progress: Progress | None = None,
) -> bytes:
    """Encrypt ``src`` into ``dst``; return the cmac to register with the file.

    For ``teaclave-file-128`` the file is bound to ``name`` (default: ``dst``'s
    basename), which must be the basename the file will be opened under. The
    caller is responsible for never encrypting two different plaintexts with
    one AES-GCM (key, IV) pair; :meth:`CryptoInfo.random` gives a fresh pair.
    """
    info = CryptoInfo.of(info)
    label = describe(dst)
    if not info.spec.writable:
        raise FormatError(
            "schema",
            f"{info.schema} is accepted for inputs only; teabox writes aes-gcm-128, aes-gcm-256 or teaclave-file-128",
            file=label,
        )
    bound = _bound_name(name, dst) if info.schema == TEACLAVE_FILE_128 else None
    with open_source(src) as source, staged_destination(dst) as staging:
        if bound is not None:
            return pfs_writer.write_stream(info.key, bound, source.file, staging, label=label, progress=progress)
        return aes_gcm.encrypt_stream(info.key, info.iv, source.file, staging, progress)


def _read(
    info: CryptoInfo,
    src: BinaryIO,
    dst: BinaryIO | None,
    *,
    label: str,
    bound: str | None,
    cmac: bytes | None,
    progress: Progress | None,
) -> bytes | None:
    if info.schema == RAW:
        raw.copy_stream(src, dst, progress)
        return None
    if bound is not None:
        return pfs_reader.read_stream(info.key, bound, src, dst, label=label, expected_cmac=cmac, progress=progress)
    return aes_gcm.decrypt_stream(info.key, info.iv, src, dst, label=label, expected_cmac=cmac, progress=progress)


def decrypt(
    info: CryptoInfo | CryptoSpecLike,
    src: PathOrFile,
    dst: PathOrFile,
    *,
    name: str | None = None,
    expected_cmac: bytes | str | None = None,
    progress: Progress | None = None,
) -> bytes | None:
    """Decrypt ``src`` into ``dst``; return the file's cmac (None for ``raw``).

    Every check (structure, every tag, bound name, ``expected_cmac``) passes
    before ``dst`` appears; on any failure nothing is written there. For
    ``teaclave-file-128`` the expected bound name defaults to ``src``'s
    basename.
    """
    info = CryptoInfo.of(info)
    label = describe(src)
    cmac = _as_cmac(expected_cmac, info, label)
    bound = _bound_name(name, src) if info.schema == TEACLAVE_FILE_128 else None
    with open_source(src) as source, staged_destination(dst) as staging:
        return _read(info, source.file, staging, label=label, bound=bound, cmac=cmac, progress=progress)


def verify(
    info: CryptoInfo | CryptoSpecLike,
    src: PathOrFile,
    *,
    name: str | None = None,
    cmac: bytes | str | None = None,
    progress: Progress | None = None,
) -> bytes | None:
    """Check ``src`` completely without keeping any plaintext; return its cmac (None for ``raw``)."""
    info = CryptoInfo.of(info)
    label = describe(src)
    expected = _as_cmac(cmac, info, label)
    bound = _bound_name(name, src) if info.schema == TEACLAVE_FILE_128 else None
    with open_source(src) as source:
        return _read(info, source.file, None, label=label, bound=bound, cmac=expected, progress=progress)
