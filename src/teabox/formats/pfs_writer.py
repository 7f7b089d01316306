"""Writing ``teaclave-file-128`` files in one streaming pass plus a small tree pass.

Data nodes are encrypted and written in file order as the plaintext streams
in. An MHT node cannot be encrypted until all of its child MHT nodes are,
and those come later in the file, so the writer parks each MHT node's
finished data-node half (keys and tags of its 96 data nodes) at the MHT
node's own place in the staging file, sealed with AES-GCM under a key that
exists only in this process. Once the plaintext is exhausted it finalizes the
tree children-first by a depth-first walk, which keeps memory constant (one
slot table per tree level) whatever the file size; node 0 is written last.

Every node gets a fresh random key, as the format requires for its all-zero
IV, and node 0 a fresh random ``key_id``.
"""

from __future__ import annotations

import os
from typing import BinaryIO, Protocol

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from teabox.formats.errors import IntegrityError
from teabox.formats.pfs_layout import (
    CHILD_SLOTS,
    DATA_SLOTS,
    INLINE_SIZE,
    KEY_SIZE,
    NODE0_PADDING,
    NODE_SIZE,
    SLOT_SIZE,
    TAG_SIZE,
    ZERO_IV,
    Metadata,
    encode_name,
    metadata_key,
    mht_physical,
    pack_header,
)
from teabox.formats.streams import Progress, read_full

_GROUP_PLAINTEXT = DATA_SLOTS * NODE_SIZE
_DATA_HALF = DATA_SLOTS * SLOT_SIZE


class NodeKeys(Protocol):
    """Where the writer's random values come from.

    Production uses :class:`RandomNodeKeys`; supplying the values read back from
    a Teaclave file reproduces that file byte for byte, which is how the tests
    prove the writer's layout.
    """

    def data_keys(self, first_physical: int, count: int) -> bytes:
        """Keys (16 bytes each, concatenated) for ``count`` consecutive data nodes."""

    def mht_key(self, physical: int) -> bytes:
        """The key for the MHT node at ``physical``."""

    def key_id(self) -> bytes:
        """The 32-byte ``key_id`` of node 0."""


class RandomNodeKeys:
    """Fresh operating-system randomness for every key (one call per group of data nodes)."""

    def data_keys(self, first_physical: int, count: int) -> bytes:
        return os.urandom(KEY_SIZE * count)

    def mht_key(self, physical: int) -> bytes:
        return os.urandom(KEY_SIZE)

    def key_id(self) -> bytes:
        return os.urandom(32)


def _seal_node(key: bytes, plaintext: bytes | memoryview) -> tuple[memoryview, bytes]:
    """Encrypt one node; return its ciphertext and its ``key || tag`` slot entry."""
    sealed = memoryview(AESGCM(key).encrypt(ZERO_IV, plaintext, None))
    return sealed[:NODE_SIZE], key + bytes(sealed[NODE_SIZE:])


class _Writer:
    def __init__(self, dst: BinaryIO, keys: NodeKeys, label: str) -> None:
        self.dst = dst
        self.label = label
        self.keys = keys
        # Seals parked MHT halves; it never leaves this object, and each nonce (the MHT number) is used once.
        self.parking = AESGCM(AESGCM.generate_key(bit_length=128))
        self.n_mht = 0

    def write_group(self, m: int, plaintext: bytes) -> None:
        """Encrypt up to 96 data nodes and write them after a parked MHT node ``m``."""
        count = -(-len(plaintext) // NODE_SIZE)
        if len(plaintext) % NODE_SIZE:
            plaintext = plaintext.ljust(count * NODE_SIZE, b"\0")
        first_physical = mht_physical(m) + 1
        keys = self.keys.data_keys(first_physical, count)
        chunks = memoryview(plaintext)
        half = bytearray(_DATA_HALF)
        out: list[bytes | memoryview] = []
        for i in range(count):
            ciphertext, entry = _seal_node(
                keys[i * KEY_SIZE : (i + 1) * KEY_SIZE], chunks[i * NODE_SIZE : (i + 1) * NODE_SIZE]
            )
            half[i * SLOT_SIZE : (i + 1) * SLOT_SIZE] = entry
            out.append(ciphertext)
        parked = self.parking.encrypt(m.to_bytes(12, "little"), bytes(half), None)
        self.dst.seek(mht_physical(m) * NODE_SIZE)
        self.dst.write(parked.ljust(NODE_SIZE, b"\0"))
        self.dst.writelines(out)
        self.n_mht = m + 1

    def finalize_mht(self, m: int) -> bytes:
        """Encrypt MHT node ``m`` after its whole subtree; return its ``key || tag``."""
        children = bytearray(CHILD_SLOTS * SLOT_SIZE)
        for j in range(CHILD_SLOTS):
            child = CHILD_SLOTS * m + j + 1
            if child >= self.n_mht:
                break
            children[j * SLOT_SIZE : (j + 1) * SLOT_SIZE] = self.finalize_mht(child)
        physical = mht_physical(m)
        self.dst.seek(physical * NODE_SIZE)
        parked = read_full(self.dst, _DATA_HALF + TAG_SIZE)
        try:
            half = self.parking.decrypt(m.to_bytes(12, "little"), parked, None)
        except InvalidTag:
            raise IntegrityError(
                "staging file", f"MHT node {m} changed on disk while the file was being written", file=self.label
            ) from None
        ciphertext, entry = _seal_node(self.keys.mht_key(physical), half + bytes(children))
        self.dst.seek(physical * NODE_SIZE)
        self.dst.write(ciphertext)
        return entry


def write_stream(
    user_key: bytes,
    name: str,
    src: BinaryIO,
    dst: BinaryIO,
    *,
    label: str,
    progress: Progress | None = None,
    keys: NodeKeys | None = None,
) -> bytes:
    """Encrypt all of ``src`` into ``dst`` bound to ``name``; return the cmac.

    ``dst`` must be readable and seekable (a staging file): parked MHT halves
    are read back from it, and node 0 is written last at offset 0.
    """
    bound = encode_name(name, file=label)
    writer = _Writer(dst, keys or RandomNodeKeys(), label)
    inline = read_full(src, INLINE_SIZE)
    size = len(inline)
    if progress:
        progress(size)
    m = 0
    # Only a full inline area can be followed by data nodes, and only a full group by another group.
    while size == INLINE_SIZE + m * _GROUP_PLAINTEXT and (chunk := read_full(src, _GROUP_PLAINTEXT)):
        writer.write_group(m, chunk)
        size += len(chunk)
        m += 1
        if progress:
            progress(len(chunk))
    mht_entry = writer.finalize_mht(0) if writer.n_mht else bytes(SLOT_SIZE)
    meta = Metadata(bound, size, mht_entry[:KEY_SIZE], mht_entry[KEY_SIZE:], inline)
    key_id = writer.keys.key_id()
    sealed = AESGCM(metadata_key(user_key, key_id)).encrypt(ZERO_IV, meta.pack(), None)
    gmac = sealed[-TAG_SIZE:]
    dst.seek(0)
    dst.write(pack_header(key_id, gmac) + sealed[:-TAG_SIZE] + NODE0_PADDING)
    return gmac
