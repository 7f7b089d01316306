"""Reading and verifying ``teaclave-file-128`` files.

Node 0 is checked first (header, metadata tag, registered cmac, bound name,
exact host length), then the file is read front to back one group (an MHT
node and the up to 96 data nodes it lists) at a time, and every node is
authenticated against the key and tag stored in its parent before its
plaintext is handed on. Memory stays constant whatever the file size: the
only state is a small LRU of decrypted MHT nodes, and an MHT node evicted
from it is simply read back and re-authenticated when a child needs it.
"""

from __future__ import annotations

import hmac
import os
from collections import OrderedDict
from typing import BinaryIO

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from teabox.formats.errors import FormatError, IntegrityError
from teabox.formats.pfs_layout import (
    DATA_SLOTS,
    GMAC_RANGE,
    INLINE_SIZE,
    KEY_SIZE,
    METADATA_RANGE,
    NODE_SIZE,
    SLOT_SIZE,
    ZERO_IV,
    Metadata,
    check_header,
    encode_name,
    host_size,
    metadata_key,
    mht_parent_slot,
    mht_physical,
    node_counts,
)
from teabox.formats.streams import Progress, read_full

_MHT_CACHE_NODES = 64


def _open_node(key: bytes, tag: bytes, ciphertext: bytes | memoryview) -> bytes | None:
    """The plaintext of one node, or None if its tag does not verify."""
    try:
        return AESGCM(key).decrypt(ZERO_IV, b"".join((ciphertext, tag)), None)
    except InvalidTag:
        return None


class _Reader:
    def __init__(self, f: BinaryIO, label: str, host_length: int) -> None:
        self.f = f
        self.label = label
        self.host_length = host_length
        self.meta: Metadata | None = None
        self.mht_cache: OrderedDict[int, bytes] = OrderedDict()

    def read_at(self, offset: int, size: int) -> bytes:
        self.f.seek(offset)
        data = read_full(self.f, size)
        if len(data) != size:
            raise FormatError("host length", "the file shrank while it was being read", file=self.label)
        return data

    def open_metadata(self, user_key: bytes, name: bytes, expected_cmac: bytes | None) -> tuple[Metadata, bytes]:
        node0 = self.read_at(0, NODE_SIZE)
        key_id = check_header(node0, file=self.label)
        gmac = node0[GMAC_RANGE]
        plaintext = _open_node(metadata_key(user_key, key_id), gmac, node0[METADATA_RANGE])
        if plaintext is None:
            raise IntegrityError(
                "metadata tag", "node 0 does not authenticate: wrong key, or the file was modified", file=self.label
            )
        if expected_cmac is not None and not hmac.compare_digest(gmac, expected_cmac):
            raise IntegrityError(
                "cmac",
                f"the file's cmac {gmac.hex()} is not the registered cmac {expected_cmac.hex()}",
                file=self.label,
            )
        meta = Metadata.unpack(plaintext, file=self.label)
        if meta.name != name:
            stored = meta.name.decode("utf-8", errors="backslashreplace")
            raise IntegrityError(
                "file name",
                f"the file was encrypted under the name {stored!r}, not {name.decode()!r} (renamed file?)",
                file=self.label,
            )
        expected_length = host_size(meta.size)
        if self.host_length < expected_length:
            raise FormatError(
                "host length",
                f"truncated: {meta.size} plaintext bytes need {expected_length} bytes, the file has {self.host_length}",
                file=self.label,
            )
        if self.host_length > expected_length:
            raise FormatError(
                "trailing nodes",
                f"{(self.host_length - expected_length) // NODE_SIZE} unauthenticated node(s) after the "
                f"{expected_length} bytes that {meta.size} plaintext bytes need",
                file=self.label,
            )
        self.meta = meta
        return meta, gmac

    def mht_table(self, m: int, ciphertext: bytes | memoryview | None = None) -> bytes:
        """The authenticated plaintext of MHT node ``m`` (read from disk unless given)."""
        table = self.mht_cache.get(m)
        if table is not None:
            self.mht_cache.move_to_end(m)
            return table
        assert self.meta is not None
        if m == 0:
            key, tag = self.meta.mht_key, self.meta.mht_gmac
        else:
            parent, slot = mht_parent_slot(m)
            entry = self.mht_table(parent)[slot * SLOT_SIZE : (slot + 1) * SLOT_SIZE]
            key, tag = entry[:KEY_SIZE], entry[KEY_SIZE:]
        if ciphertext is None:
            ciphertext = self.read_at(mht_physical(m) * NODE_SIZE, NODE_SIZE)
        table = _open_node(key, tag, ciphertext)
        if table is None:
            raise IntegrityError(
                "mht node tag",
                f"MHT node {m} (physical node {mht_physical(m)}) does not authenticate: the file was modified",
                file=self.label,
            )
        self.mht_cache[m] = table
        if len(self.mht_cache) > _MHT_CACHE_NODES:
            self.mht_cache.popitem(last=False)
        return table

    def data_groups(self, dst: BinaryIO | None, progress: Progress | None) -> None:
        """Authenticate every data node in file order, writing the plaintext to ``dst``."""
        assert self.meta is not None
        n_data, n_mht = node_counts(self.meta.size)
        remaining = self.meta.size - INLINE_SIZE
        for m in range(n_mht):
            count = min(DATA_SLOTS, n_data - m * DATA_SLOTS)
            group = memoryview(self.read_at(mht_physical(m) * NODE_SIZE, (1 + count) * NODE_SIZE))
            table = self.mht_table(m, group[:NODE_SIZE])
            plaintexts = []
            for i in range(count):
                key = table[i * SLOT_SIZE : i * SLOT_SIZE + KEY_SIZE]
                tag = table[i * SLOT_SIZE + KEY_SIZE : (i + 1) * SLOT_SIZE]
                plaintext = _open_node(key, tag, group[(1 + i) * NODE_SIZE : (2 + i) * NODE_SIZE])
                if plaintext is None:
                    d = m * DATA_SLOTS + i
                    raise IntegrityError(
                        "data node tag",
                        f"data node {d} (physical node {mht_physical(m) + 1 + i}) does not authenticate: "
                        "the file was modified",
                        file=self.label,
                    )
                plaintexts.append(plaintext)
            if count * NODE_SIZE > remaining:
                plaintexts[-1] = plaintexts[-1][: remaining - (count - 1) * NODE_SIZE]
            remaining -= count * NODE_SIZE
            if dst is not None:
                dst.write(b"".join(plaintexts))
            if progress:
                progress(len(group))


def read_stream(
    user_key: bytes,
    name: str,
    src: BinaryIO,
    dst: BinaryIO | None,
    *,
    label: str,
    expected_cmac: bytes | None = None,
    progress: Progress | None = None,
) -> bytes:
    """Verify the whole of ``src`` and write its plaintext to ``dst`` (if given); return the cmac.

    ``name`` is the basename the file must be bound to. ``src`` must be
    seekable: the host length is checked up front and MHT nodes are re-read
    when a child needs them. Plaintext reaches ``dst`` node by node after each
    node is authenticated, but the caller still stages ``dst`` because a later
    node may fail.
    """
    if not src.seekable():
        raise FormatError("seekable source", "teaclave-file-128 can only be read from a seekable file", file=label)
    host_length = src.seek(0, os.SEEK_END)
    if host_length == 0:
        raise FormatError("host length", "the file is empty (0 bytes), not a teaclave-file-128 file", file=label)
    if host_length % NODE_SIZE:
        raise FormatError(
            "host length", f"{host_length} bytes is not a multiple of the {NODE_SIZE}-byte node size", file=label
        )
    reader = _Reader(src, label, host_length)
    meta, cmac = reader.open_metadata(user_key, encode_name(name, file=label), expected_cmac)
    if dst is not None:
        dst.write(meta.inline)
    if progress:
        progress(NODE_SIZE)
    reader.data_groups(dst, progress)
    return cmac
