"""Every change to an encrypted file is refused, with the file and the failed check named."""

from __future__ import annotations

import io
import os
import struct
from pathlib import Path

import pytest

from teabox.formats import CryptoInfo, FileCheckError, FormatError, IntegrityError, decrypt, encrypt, verify
from teabox.formats.pfs_layout import NODE_SIZE
from teabox.formats.pfs_writer import write_stream


def _encrypted(info: CryptoInfo, size: int, name: str = "small.enc") -> tuple[bytes, bytes]:
    out = io.BytesIO()
    cmac = encrypt(info, io.BytesIO(os.urandom(size)), out, name=name)
    return out.getvalue(), cmac


@pytest.mark.parametrize(
    ("schema", "size"),
    [("aes-gcm-128", 300), ("aes-gcm-256", 300), ("teaclave-file-128", 3073)],
)
def test_every_single_bit_flip_is_detected(schema: str, size: int) -> None:
    """3073 bytes make a three-node file: node 0, the root MHT node and one data node."""
    info = CryptoInfo.random(schema)
    data, _ = _encrypted(info, size)
    buf = bytearray(data)
    undetected = []
    for bit in range(len(buf) * 8):
        buf[bit // 8] ^= 1 << (bit % 8)
        try:
            verify(info, io.BytesIO(buf), name="small.enc")
        except FileCheckError:
            pass
        else:
            undetected.append(bit)
        buf[bit // 8] ^= 1 << (bit % 8)
    assert undetected == []
    verify(info, io.BytesIO(buf), name="small.enc")  # the restored file still verifies


@pytest.mark.parametrize("schema", ["aes-gcm-128", "aes-gcm-256", "teaclave-file-128"])
def test_wrong_key_is_refused(tmp_path: Path, schema: str) -> None:
    info = CryptoInfo.random(schema)
    enc = tmp_path / "x.enc"
    enc.write_bytes(_encrypted(info, 5000, "x.enc")[0])
    wrong = CryptoInfo(schema, bytes(len(info.key)), info.iv)
    with pytest.raises(IntegrityError) as err:
        decrypt(wrong, enc, tmp_path / "out")
    assert str(enc) in str(err.value)
    assert err.value.check in {"metadata tag", "gcm tag"}
    assert "wrong key" in str(err.value)
    assert not (tmp_path / "out").exists()


def test_wrong_iv_is_refused(tmp_path: Path) -> None:
    info = CryptoInfo.random("aes-gcm-128")
    enc = tmp_path / "x.enc"
    enc.write_bytes(_encrypted(info, 100)[0])
    with pytest.raises(IntegrityError):
        verify(CryptoInfo("aes-gcm-128", info.key, bytes(12)), enc)


def test_renamed_teaclave_file_is_refused(tmp_path: Path) -> None:
    info = CryptoInfo.random("teaclave-file-128")
    plain = tmp_path / "plain"
    plain.write_bytes(b"secret rows")
    original = tmp_path / "bank_a.enc"
    encrypt(info, plain, original)
    renamed = tmp_path / "bank_b.enc"
    original.rename(renamed)
    with pytest.raises(IntegrityError) as err:
        decrypt(info, renamed, tmp_path / "out")
    assert err.value.check == "file name"
    assert "'bank_a.enc'" in str(err.value) and "'bank_b.enc'" in str(err.value)
    # Opening it under the bound name works, which is how an owner recovers.
    decrypt(info, renamed, tmp_path / "out", name="bank_a.enc")
    assert (tmp_path / "out").read_bytes() == b"secret rows"


@pytest.mark.parametrize(("schema", "size"), [("aes-gcm-128", 5 * 2**20), ("teaclave-file-128", 2 * 2**20)])
def test_tampered_tail_leaves_no_plaintext_behind(tmp_path: Path, schema: str, size: int) -> None:
    """The damage is at the very end, after most plaintext was already produced into staging."""
    info = CryptoInfo.random(schema)
    enc = tmp_path / "big.enc"
    data, _ = _encrypted(info, size, "big.enc")
    tampered = bytearray(data)
    tampered[-1] ^= 0x01
    enc.write_bytes(tampered)
    with pytest.raises(IntegrityError) as err:
        decrypt(info, enc, tmp_path / "plain.out")
    assert str(enc) in str(err.value)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["big.enc"]


def test_registered_cmac_mismatch_is_refused_before_any_plaintext(tmp_path: Path) -> None:
    info = CryptoInfo.random("teaclave-file-128")
    enc = tmp_path / "x.enc"
    data, cmac = _encrypted(info, 10_000, "x.enc")
    enc.write_bytes(data)
    other = bytes(16)
    with pytest.raises(IntegrityError) as err:
        decrypt(info, enc, tmp_path / "out", expected_cmac=other)
    assert err.value.check == "cmac" and cmac.hex() in str(err.value)
    assert not (tmp_path / "out").exists()
    gcm = CryptoInfo.random("aes-gcm-128")
    gdata, _ = _encrypted(gcm, 10)
    with pytest.raises(IntegrityError) as err:
        verify(gcm, io.BytesIO(gdata), cmac=other.hex())
    assert err.value.check == "cmac"


def _pfs_file(tmp_path: Path, size: int = 5000) -> tuple[CryptoInfo, Path, bytearray]:
    info = CryptoInfo.random("teaclave-file-128")
    path = tmp_path / "t.enc"
    data, _ = _encrypted(info, size, "t.enc")
    return info, path, bytearray(data)


@pytest.mark.parametrize(
    ("edit", "check"),
    [
        (lambda d: d.clear(), "host length"),  # 0-byte file: the SDK would open it as a new empty file
        (lambda d: d.extend(b"x"), "host length"),
        (lambda d: d.__delitem__(slice(-NODE_SIZE, None)), "host length"),  # truncated by a node
        (lambda d: d.extend(bytes(NODE_SIZE)), "trailing nodes"),
        (lambda d: d.__setitem__(slice(0, 8), b"NOTSGXFS"), "file id"),
        (lambda d: d.__setitem__(8, 2), "major version"),
        (lambda d: d.__setitem__(9, 1), "minor version"),
        (lambda d: d.__setitem__(10, 0), "encrypt flags"),
        (lambda d: d.__setitem__(11, 1), "update flag"),
        (lambda d: d.__setitem__(slice(12, 14), struct.pack("<H", 1)), "reserved fields"),
        (lambda d: d.__setitem__(4000, 1), "node 0 padding"),
    ],
    ids=[
        "empty",
        "odd length",
        "truncated",
        "trailing",
        "file id",
        "major",
        "minor",
        "flags",
        "update",
        "reserved",
        "pad",
    ],
)
def test_teaclave_file_structure_policy(tmp_path: Path, edit, check: str) -> None:
    info, path, data = _pfs_file(tmp_path)
    edit(data)
    path.write_bytes(data)
    with pytest.raises(FormatError) as err:
        decrypt(info, path, tmp_path / "out")
    assert err.value.check == check and err.value.file == str(path)
    assert str(path) in str(err.value)
    assert not (tmp_path / "out").exists()


def test_gcm_file_shorter_than_its_tag_is_refused() -> None:
    info = CryptoInfo.random("aes-gcm-128")
    for size in (0, 15):
        with pytest.raises(FormatError) as err:
            verify(info, io.BytesIO(bytes(size)))
        assert err.value.check == "file length"


def test_teaclave_file_needs_a_name_and_a_seekable_source(tmp_path: Path) -> None:
    info = CryptoInfo.random("teaclave-file-128")
    with pytest.raises(FormatError) as err:
        encrypt(info, io.BytesIO(b"x"), io.BytesIO())
    assert err.value.check == "file name"
    with pytest.raises(FormatError) as err:
        encrypt(info, io.BytesIO(b"x"), tmp_path / "ok.enc", name="a/b")
    assert err.value.check == "file name"
    with pytest.raises(FormatError) as err:
        encrypt(info, io.BytesIO(b"x"), tmp_path / ("n" * 259))
    assert err.value.check == "file name"
    assert list(tmp_path.iterdir()) == []
    read_fd, write_fd = os.pipe()
    os.close(write_fd)
    with os.fdopen(read_fd, "rb") as pipe, pytest.raises(FormatError) as err:
        verify(info, pipe, name="x.enc")
    assert err.value.check == "seekable source"


def test_writer_detects_its_staging_file_changing_underneath() -> None:
    """Parked MHT halves are sealed, so a staging file modified mid-write cannot yield a wrong file."""

    class MeddlingFile(io.BytesIO):
        def write(self, data) -> int:  # type: ignore[override]
            if self.tell() == NODE_SIZE and len(data) == NODE_SIZE:  # the parked root MHT node
                data = b"\xff" + bytes(data)[1:]
            return super().write(data)

    with pytest.raises(IntegrityError) as err:
        write_stream(bytes(16), "x.enc", io.BytesIO(os.urandom(10_000)), MeddlingFile(), label="x.enc")
    assert err.value.check == "staging file"
