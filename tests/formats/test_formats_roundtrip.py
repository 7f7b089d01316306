"""Round trips through every writable format, at the sizes where layouts change."""

from __future__ import annotations

import io
import os
import subprocess
from pathlib import Path

import pytest

from teabox.formats import CryptoInfo, decrypt, encrypt, pfs_reader, verify
from teabox.formats.pfs_layout import host_size, node_counts

# 0..4096: inline area edges; 1 MiB + 1: many data nodes; 396,289: a second MHT node;
# 12,979,201: the first MHT node at depth 2 (MHT 33, child of MHT 1).
SIZES = [0, 1, 3071, 3072, 3073, 4096, (1 << 20) + 1, 396_289, 12_979_201]
SCHEMAS = ["aes-gcm-128", "aes-gcm-256", "teaclave-file-128"]


def _plaintext(size: int) -> bytes:
    return os.urandom(size)


@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("schema", SCHEMAS)
def test_round_trip(tmp_path: Path, schema: str, size: int) -> None:
    info = CryptoInfo.random(schema)
    plain = tmp_path / "plain.bin"
    plain.write_bytes(_plaintext(size))
    enc = tmp_path / "data.enc"
    cmac = encrypt(info, plain, enc)
    assert len(cmac) == 16
    if schema == "teaclave-file-128":
        assert enc.stat().st_size == host_size(size)
        assert enc.read_bytes()[80:96] == cmac
    else:
        assert enc.stat().st_size == size + 16
        assert enc.read_bytes()[-16:] == cmac
    out = tmp_path / "back.bin"
    assert decrypt(info, enc, out, expected_cmac=cmac) == cmac
    assert out.read_bytes() == plain.read_bytes()
    assert verify(info, enc, cmac=cmac) == cmac
    assert sorted(p.name for p in tmp_path.iterdir()) == ["back.bin", "data.enc", "plain.bin"]


def test_node_counts_match_the_worked_examples() -> None:
    assert node_counts(27_929) == (7, 1) and host_size(27_929) == 36_864
    assert node_counts(10 * 2**20) == (2560, 27) and host_size(10 * 2**20) == 10_600_448
    assert node_counts(396_288) == (96, 1) and node_counts(396_289) == (97, 2)
    assert node_counts(12_979_200)[1] == 33 and node_counts(12_979_201)[1] == 34


def test_two_encryptions_of_one_file_differ_only_in_random_bytes(tmp_path: Path) -> None:
    info = CryptoInfo.random("teaclave-file-128")
    plain = tmp_path / "p"
    plain.write_bytes(_plaintext(400_000))
    a, b = tmp_path / "a" / "x.enc", tmp_path / "b" / "x.enc"
    a.parent.mkdir()
    b.parent.mkdir()
    assert encrypt(info, plain, a) != encrypt(info, plain, b)
    da, db = a.read_bytes(), b.read_bytes()
    assert len(da) == len(db) and da[:16] == db[:16] and da[48:80] == db[48:80]
    assert da[3468:4096] == db[3468:4096] == bytes(628)


def test_deep_tree_reads_back_with_parents_evicted_from_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """With a one-node cache every parent MHT node is re-read and re-authenticated from disk."""
    monkeypatch.setattr(pfs_reader, "_MHT_CACHE_NODES", 1)
    info = CryptoInfo.random("teaclave-file-128")
    plain = tmp_path / "plain"
    plain.write_bytes(_plaintext(12_979_201))
    enc = tmp_path / "deep.enc"
    cmac = encrypt(info, plain, enc)
    assert decrypt(info, enc, tmp_path / "out") == cmac
    assert (tmp_path / "out").read_bytes() == plain.read_bytes()


@pytest.mark.parametrize("schema", SCHEMAS)
def test_file_objects_in_and_out(schema: str) -> None:
    info = CryptoInfo.random(schema)
    data = _plaintext(100_000)
    encrypted = io.BytesIO()
    cmac = encrypt(info, io.BytesIO(data), encrypted, name="stream.enc")
    back = io.BytesIO()
    assert decrypt(info, io.BytesIO(encrypted.getvalue()), back, name="stream.enc") == cmac
    assert back.getvalue() == data


def test_raw_inputs_are_copied_without_a_cmac(tmp_path: Path) -> None:
    src = tmp_path / "in.txt"
    src.write_bytes(b"4211037")
    info = CryptoInfo("raw", b"")
    assert decrypt(info, src, tmp_path / "out.txt") is None
    assert (tmp_path / "out.txt").read_bytes() == b"4211037"
    assert verify(info, src) is None


def test_gcm_streams_from_a_pipe(tmp_path: Path) -> None:
    """AES-GCM needs no seekable source: the tag is held back while streaming."""
    info = CryptoInfo.random("aes-gcm-256")
    data = _plaintext(3 * 2**20 + 5)
    enc = tmp_path / "x.enc"
    cmac = encrypt(info, io.BytesIO(data), enc)
    with subprocess.Popen(["cat", str(enc)], stdout=subprocess.PIPE) as cat:
        out = io.BytesIO()
        assert cat.stdout is not None and not cat.stdout.seekable()
        assert decrypt(info, cat.stdout, out) == cmac
    assert out.getvalue() == data


@pytest.mark.parametrize("schema", SCHEMAS)
def test_progress_reports_every_source_byte(tmp_path: Path, schema: str) -> None:
    info = CryptoInfo.random(schema)
    plain = tmp_path / "p"
    plain.write_bytes(_plaintext(2_000_000))
    seen: list[int] = []
    encrypt(info, plain, tmp_path / "p.enc", progress=seen.append)
    assert sum(seen) == 2_000_000
    seen.clear()
    verify(info, tmp_path / "p.enc", progress=seen.append)
    assert sum(seen) == (tmp_path / "p.enc").stat().st_size
