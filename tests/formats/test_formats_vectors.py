"""Teaclave's own files: teabox reads every vector and regenerates each byte for byte."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from support.teaclave_fixtures import FIXTURES, MISSING

from teabox.formats import CryptoInfo, IntegrityError, decrypt, encrypt, verify
from teabox.formats.pfs_layout import (
    GMAC_RANGE,
    HEADER,
    KEY_SIZE,
    METADATA_RANGE,
    NODE_SIZE,
    SLOT_SIZE,
    ZERO_IV,
    Metadata,
    metadata_key,
    mht_parent_slot,
    mht_physical,
    node_counts,
)
from teabox.formats.pfs_writer import write_stream

if not FIXTURES.is_dir():
    pytest.skip(MISSING, allow_module_level=True)

ZERO_KEY = CryptoInfo("teaclave-file-128", bytes(16))

# (encrypted file, plaintext, cmac) exactly as VECTORS.md lists them.
PFS_VECTORS = [
    ("wamr_rust_psi/psi0.txt.enc", "wamr_rust_psi/psi0.txt", "fd9b319ae0fc595a98ee4135667ac0ac"),
    ("wamr_rust_psi/psi1.txt.enc", "wamr_rust_psi/psi1.txt", "93cc677d7bac5910cd7199f7d6b9ac15"),
    ("wamr_tvm_mnist/img_10.jpg.enc", "wamr_tvm_mnist/img_10.jpg", "818fc6295fcd6816c0549dd29f32ed9e"),
    ("ordered_set_intersect/psi0.txt.enc", "ordered_set_intersect/psi0.txt", "92f686d4ac2ba6b4ffd93bc7ac5dbf58"),
    ("ordered_set_intersect/psi1.txt.enc", "ordered_set_intersect/psi1.txt", "8b3104972a6f0de949315e0b45d5dd66"),
    (
        "private_join_and_compute/three_party_data/bank_a.enc",
        "private_join_and_compute/three_party_data/bank_a.txt",
        "f6a4585a4903f8dea0ee90ac84a50dba",
    ),
    (
        "private_join_and_compute/three_party_data/bank_b.enc",
        "private_join_and_compute/three_party_data/bank_b.txt",
        "ab6065314fcbacd6971ff55d3821b51e",
    ),
    (
        "private_join_and_compute/three_party_data/bank_c.enc",
        "private_join_and_compute/three_party_data/bank_c.txt",
        "9d7dbe465806731a43008ab094c97688",
    ),
    ("gbdt_training/train.enc", "gbdt_training/train.txt", "860030495909b84864b991865e9ad94f"),
    ("py_logistic_reg/predict.enc", "py_logistic_reg/predict.txt", "3397954d135f47bcc4ffbb90a0bb51c9"),
    ("py_logistic_reg/train.enc", "py_logistic_reg/train.txt", "00780510adc603725ec240ab979681f0"),
]


@pytest.mark.parametrize(("encrypted", "plain", "cmac"), PFS_VECTORS, ids=[v[0] for v in PFS_VECTORS])
def test_teaclave_file_vector_decrypts_with_its_cmac(tmp_path: Path, encrypted: str, plain: str, cmac: str) -> None:
    out = tmp_path / "plain"
    assert decrypt(ZERO_KEY, FIXTURES / encrypted, out, expected_cmac=cmac).hex() == cmac
    assert out.read_bytes() == (FIXTURES / plain).read_bytes()
    assert verify(ZERO_KEY, FIXTURES / encrypted, cmac=bytes.fromhex(cmac)).hex() == cmac


def test_gcm_vector_decrypts_with_its_tag(tmp_path: Path) -> None:
    info = CryptoInfo("aes-gcm-128", bytes(16), b"\x01" * 12)
    out = tmp_path / "train.txt"
    tag = decrypt(
        info, FIXTURES / "gbdt_training/train.aes_gcm_128", out, expected_cmac="592f1e607649d89ff2aa8a2841a57cad"
    )
    assert tag.hex() == "592f1e607649d89ff2aa8a2841a57cad"
    assert out.read_bytes() == (FIXTURES / "gbdt_training/train.txt").read_bytes()


def test_gcm_vector_is_reproduced_by_encrypt(tmp_path: Path) -> None:
    info = CryptoInfo("aes-gcm-128", bytes(16), b"\x01" * 12)
    out = tmp_path / "train.aes_gcm_128"
    encrypt(info, FIXTURES / "gbdt_training/train.txt", out)
    assert out.read_bytes() == (FIXTURES / "gbdt_training/train.aes_gcm_128").read_bytes()


def test_gcm_vector_needs_the_eight_zero_bytes_of_aad() -> None:
    """Guards the AAD constant: Teaclave's tag does not verify with empty AAD."""
    data = (FIXTURES / "gbdt_training/train.aes_gcm_128").read_bytes()
    with pytest.raises(InvalidTag):
        AESGCM(bytes(16)).decrypt(b"\x01" * 12, data, None)
    assert (
        AESGCM(bytes(16)).decrypt(b"\x01" * 12, data, bytes(8)) == (FIXTURES / "gbdt_training/train.txt").read_bytes()
    )


def test_vector_under_another_name_is_refused(tmp_path: Path) -> None:
    renamed = tmp_path / "psi1.txt.enc"
    renamed.write_bytes((FIXTURES / "wamr_rust_psi/psi0.txt.enc").read_bytes())
    with pytest.raises(IntegrityError) as err:
        decrypt(ZERO_KEY, renamed, tmp_path / "out")
    assert err.value.check == "file name" and "psi0.txt.enc" in str(err.value)
    assert not (tmp_path / "out").exists()


class VectorKeys:
    """The random values of an existing file, read back with the layout primitives.

    Fed to the writer, they must reproduce the file exactly: this pins every
    zero-fill rule, header value and slot position against Teaclave's output.
    """

    def __init__(self, data: bytes, user_key: bytes) -> None:
        self.data = data
        self._key_id = HEADER.unpack_from(data)[7]
        meta = Metadata.unpack(
            AESGCM(metadata_key(user_key, self._key_id)).decrypt(
                ZERO_IV, data[METADATA_RANGE] + data[GMAC_RANGE], None
            ),
            file="vector",
        )
        self.meta = meta
        self.keys: dict[int, bytes] = {}
        n_data, n_mht = node_counts(meta.size)
        tables: dict[int, bytes] = {}
        for m in range(n_mht):
            if m == 0:
                key, tag = meta.mht_key, meta.mht_gmac
            else:
                parent, slot = mht_parent_slot(m)
                entry = tables[parent][slot * SLOT_SIZE : (slot + 1) * SLOT_SIZE]
                key, tag = entry[:KEY_SIZE], entry[KEY_SIZE:]
            physical = mht_physical(m)
            self.keys[physical] = key
            tables[m] = AESGCM(key).decrypt(ZERO_IV, self.node(physical) + tag, None)
            for i in range(min(96, n_data - 96 * m)):
                self.keys[physical + 1 + i] = tables[m][i * SLOT_SIZE : i * SLOT_SIZE + KEY_SIZE]

    def node(self, physical: int) -> bytes:
        return self.data[physical * NODE_SIZE : (physical + 1) * NODE_SIZE]

    def data_keys(self, first_physical: int, count: int) -> bytes:
        return b"".join(self.keys[first_physical + i] for i in range(count))

    def mht_key(self, physical: int) -> bytes:
        return self.keys[physical]

    def key_id(self) -> bytes:
        return self._key_id


@pytest.mark.parametrize(("encrypted", "plain", "cmac"), PFS_VECTORS, ids=[v[0] for v in PFS_VECTORS])
def test_writer_regenerates_teaclave_file_byte_for_byte(encrypted: str, plain: str, cmac: str) -> None:
    original = (FIXTURES / encrypted).read_bytes()
    keys = VectorKeys(original, bytes(16))
    out = io.BytesIO()
    with open(FIXTURES / plain, "rb") as src:
        tag = write_stream(bytes(16), Path(encrypted).name, src, out, label=encrypted, keys=keys)
    assert tag.hex() == cmac
    assert out.getvalue() == original
