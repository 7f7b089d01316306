"""Schemas, keys and IVs: validated once, with errors that say what is wrong."""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path

import pytest

from teabox.errors import TeaboxError
from teabox.formats import CryptoInfo, FormatError, IntegrityError, decrypt, encrypt, generate_iv, generate_key, verify


@pytest.mark.parametrize(
    ("schema", "key_size", "iv_size"),
    [("aes-gcm-128", 16, 12), ("aes-gcm-256", 32, 12), ("teaclave-file-128", 16, 0), ("raw", 0, 0)],
)
def test_random_material_has_the_schema_lengths(schema: str, key_size: int, iv_size: int) -> None:
    info = CryptoInfo.random(schema)
    assert (len(info.key), len(info.iv)) == (key_size, iv_size)
    assert len(generate_key(schema)) == key_size and len(generate_iv(schema)) == iv_size
    if key_size:
        assert CryptoInfo.random(schema).key != info.key
    if iv_size:
        assert generate_iv(schema) != generate_iv(schema)


@pytest.mark.parametrize(
    ("schema", "key", "iv", "check", "words"),
    [
        ("aes-gcm-512", bytes(16), bytes(12), "schema", "unknown schema 'aes-gcm-512'"),
        ("aes-gcm-128", bytes(32), bytes(12), "key length", "aes-gcm-128 needs a 16-byte key (32 hex digits), got 32"),
        ("aes-gcm-256", bytes(16), bytes(12), "key length", "needs a 32-byte key"),
        ("aes-gcm-128", bytes(16), bytes(16), "iv length", "needs a 12-byte iv"),
        ("aes-gcm-128", bytes(16), b"", "iv length", "got 0 bytes"),
        ("teaclave-file-128", bytes(16), bytes(12), "iv length", "takes no iv (it must be empty)"),
        ("raw", bytes(16), b"", "key length", "raw takes no key"),
    ],
)
def test_bad_material_is_refused_by_name(schema: str, key: bytes, iv: bytes, check: str, words: str) -> None:
    with pytest.raises(FormatError) as err:
        CryptoInfo(schema, key, iv)
    assert err.value.check == check and words in str(err.value)
    assert isinstance(err.value, TeaboxError)


def test_hex_parsing_and_errors() -> None:
    info = CryptoInfo.from_hex("aes-gcm-128", "00" * 15 + "ff", "01" * 12)
    assert info.key == bytes(15) + b"\xff" and info.iv == b"\x01" * 12
    with pytest.raises(FormatError) as err:
        CryptoInfo.from_hex("aes-gcm-128", "zz" * 16, "01" * 12)
    assert err.value.check == "key" and "not hexadecimal" in str(err.value)


def test_key_stays_out_of_repr() -> None:
    info = CryptoInfo("teaclave-file-128", b"\xab" * 16)
    assert "ab" * 4 not in repr(info) and "teaclave-file-128" in repr(info)


def test_registration_shaped_objects_are_accepted_and_validated(tmp_path: Path) -> None:
    @dataclass(frozen=True)
    class Registration:
        schema: str
        key: bytes
        iv: bytes

    reg = Registration("aes-gcm-128", bytes(16), b"\x02" * 12)
    cmac = encrypt(reg, io.BytesIO(b"hello"), tmp_path / "h.enc")
    assert verify(CryptoInfo.of(reg), tmp_path / "h.enc") == cmac
    with pytest.raises(FormatError):
        verify(Registration("aes-gcm-128", bytes(15), b"\x02" * 12), tmp_path / "h.enc")


def test_raw_is_never_written(tmp_path: Path) -> None:
    with pytest.raises(FormatError) as err:
        encrypt(CryptoInfo("raw", b""), io.BytesIO(b"x"), tmp_path / "out")
    assert err.value.check == "schema" and "inputs only" in str(err.value)
    assert list(tmp_path.iterdir()) == []


def test_raw_has_no_cmac_to_check(tmp_path: Path) -> None:
    with pytest.raises(FormatError) as err:
        decrypt(CryptoInfo("raw", b""), io.BytesIO(b"x"), tmp_path / "out", expected_cmac=bytes(16))
    assert err.value.check == "cmac"
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(("cmac", "check"), [("abcd", "cmac length"), (bytes(17), "cmac length"), ("xyz", "cmac")])
def test_malformed_expected_cmac_is_a_format_error(cmac: bytes | str, check: str) -> None:
    with pytest.raises(FormatError) as err:
        verify(CryptoInfo.random("aes-gcm-128"), io.BytesIO(bytes(32)), cmac=cmac)
    assert err.value.check == check
    assert not isinstance(err.value, IntegrityError)
