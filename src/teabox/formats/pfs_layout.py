"""Byte layout of ``teaclave-file-128`` (SGX Protected FS v1, user-key mode, SDK 2.0 layout).

Everything both the reader and the writer must agree on lives here: node
numbering, the clear header and encrypted metadata of node 0, the key
derivation for the metadata key, and the rules for the bound file name. See
``docs/file-formats.md`` for the format itself.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import cast

from cryptography.hazmat.primitives.ciphers import algorithms
from cryptography.hazmat.primitives.cmac import CMAC

from teabox.formats.errors import FormatError

NODE_SIZE = 4096
INLINE_SIZE = 3072  # plaintext bytes held in node 0
DATA_SLOTS = 96  # data nodes listed by one MHT node
CHILD_SLOTS = 32  # child MHT nodes listed by one MHT node
SLOT_SIZE = 32  # key[16] || gmac[16]
GROUP_NODES = 1 + DATA_SLOTS  # an MHT node followed by the data nodes it lists
KEY_SIZE = 16
TAG_SIZE = 16
ZERO_IV = bytes(12)  # safe only because every node key encrypts exactly one plaintext

FILE_ID = 0x5347585F46494C45
MAJOR_VERSION = 1
MINOR_VERSION = 0
ENCRYPT_FLAGS_USER_KEY = 1
MAX_NAME_BYTES = 258

# Node 0: clear header (0..96), encrypted metadata (96..3468), zero padding.
HEADER = struct.Struct("<QBBBBHH32s16s16s16s")
METADATA = struct.Struct(f"<260sQ{KEY_SIZE}s{TAG_SIZE}s{INLINE_SIZE}s")
GMAC_RANGE = slice(80, 96)
METADATA_RANGE = slice(HEADER.size, HEADER.size + METADATA.size)
NODE0_PADDING = bytes(NODE_SIZE - HEADER.size - METADATA.size)

# The 120-byte KDF message, natural C alignment (hence the pad bytes).
KDF_MESSAGE = struct.Struct("<I64s4xQ32sI4x")
METADATA_KEY_LABEL = b"SGX-PROTECTED-FS-METADATA-KEY"


def mht_physical(m: int) -> int:
    """Physical node number of MHT node ``m``: each heads a group of 97 nodes after node 0."""
    return 1 + GROUP_NODES * m


def mht_parent_slot(m: int) -> tuple[int, int]:
    """The MHT node holding the key and tag of MHT node ``m > 0``, and the slot they are in."""
    return (m - 1) // CHILD_SLOTS, DATA_SLOTS + (m - 1) % CHILD_SLOTS


def node_counts(size: int) -> tuple[int, int]:
    """``(data nodes, MHT nodes)`` for a plaintext of ``size`` bytes."""
    if size <= INLINE_SIZE:
        return 0, 0
    n_data = -(-(size - INLINE_SIZE) // NODE_SIZE)
    return n_data, -(-n_data // DATA_SLOTS)


def host_size(size: int) -> int:
    """Bytes on disk for a plaintext of ``size`` bytes."""
    n_data, n_mht = node_counts(size)
    return (1 + n_mht + n_data) * NODE_SIZE


def derive_key(parent_key: bytes, label: bytes, node_number: int, nonce: bytes) -> bytes:
    """The SDK's KDF: AES-CMAC under ``parent_key`` of the 120-byte message."""
    mac = CMAC(algorithms.AES(parent_key))
    mac.update(KDF_MESSAGE.pack(1, label, node_number, nonce, KEY_SIZE * 8))
    return mac.finalize()


def metadata_key(user_key: bytes, key_id: bytes) -> bytes:
    """The key of node 0's encrypted part, fresh for every ``key_id``."""
    return derive_key(user_key, METADATA_KEY_LABEL, 0, key_id)


def encode_name(name: str, *, file: str | None = None) -> bytes:
    """The bound name as stored: a basename of 1..258 UTF-8 bytes, no NUL, no '/'."""
    raw = name.encode("utf-8", errors="strict")
    if not raw or len(raw) > MAX_NAME_BYTES or b"\0" in raw or b"/" in raw:
        raise FormatError(
            "file name",
            f"the bound name must be a basename of 1..{MAX_NAME_BYTES} UTF-8 bytes without NUL or '/', got {name!r}",
            file=file,
        )
    return raw


def pack_header(key_id: bytes, gmac: bytes) -> bytes:
    """Node 0's clear header as a teabox writer emits it (never an update in progress)."""
    return HEADER.pack(
        FILE_ID, MAJOR_VERSION, MINOR_VERSION, ENCRYPT_FLAGS_USER_KEY, 0, 0, 0, key_id, bytes(16), bytes(16), gmac
    )


def check_header(node0: bytes, *, file: str) -> bytes:
    """Check node 0's clear header and padding; return ``key_id``.

    None of these bytes is authenticated, so teabox accepts only the exact
    values a fresh user-key file has (including minor version 0 and zeros
    wherever the SDK writes zeros): any change to the file is then detected.
    """
    file_id, major, minor, flags, update, policy, svn, key_id, cpu_svn, attributes, _gmac = HEADER.unpack_from(node0)
    if file_id != FILE_ID:
        raise FormatError("file id", f"not a teaclave-file-128 file (file id {file_id:#018x})", file=file)
    if major != MAJOR_VERSION:
        raise FormatError("major version", f"version {major}.{minor} is not supported (only 1.0)", file=file)
    if minor != MINOR_VERSION:
        raise FormatError("minor version", f"version {major}.{minor} is not supported (only 1.0)", file=file)
    if update != 0:
        raise FormatError(
            "update flag", "the file records an interrupted write (update flag set); it needs SGX recovery", file=file
        )
    if flags != ENCRYPT_FLAGS_USER_KEY:
        raise FormatError(
            "encrypt flags", f"encrypt flags {flags} (only 1, user key, can be opened outside an enclave)", file=file
        )
    if policy or svn or any(cpu_svn) or any(attributes):
        raise FormatError(
            "reserved fields",
            "key policy, ISV SVN, CPU SVN and attribute mask must be zero in a user-key file "
            "(they are not authenticated)",
            file=file,
        )
    if node0[HEADER.size + METADATA.size :] != NODE0_PADDING:
        raise FormatError("node 0 padding", "the unauthenticated padding of node 0 is not all zero", file=file)
    return cast(bytes, key_id)  # HEADER's 32s field


@dataclass(frozen=True)
class Metadata:
    """The plaintext of node 0's encrypted part."""

    name: bytes
    size: int
    mht_key: bytes
    mht_gmac: bytes
    inline: bytes  # the first min(size, 3072) plaintext bytes

    def pack(self) -> bytes:
        return METADATA.pack(self.name, self.size, self.mht_key, self.mht_gmac, self.inline)

    @classmethod
    def unpack(cls, plaintext: bytes, *, file: str) -> Metadata:
        name_field, size, mht_key, mht_gmac, inline = METADATA.unpack(plaintext)
        end = name_field.find(b"\0")
        if end < 0:
            raise FormatError("file name", "the stored name is not NUL-terminated", file=file)
        return cls(name_field[:end], size, mht_key, mht_gmac, inline[: min(size, INLINE_SIZE)])
