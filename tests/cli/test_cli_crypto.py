"""``teabox encrypt|decrypt|verify`` as a Teaclave user calls them; outputs equal the library's."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from support.teaclave_fixtures import FIXTURES, needs_fixtures

from teabox.cli import crypto as crypto_commands
from teabox.cli.main import main
from teabox.formats import CryptoInfo, decrypt, encrypt, verify

KEY = "000102030405060708090a0b0c0d0e0f"


def teabox(*args: str | Path) -> Result:
    return CliRunner().invoke(main, [str(a) for a in args])


@pytest.fixture
def plain(tmp_path: Path) -> Path:
    path = tmp_path / "plain.bin"
    path.write_bytes(os.urandom(500_000))
    return path


@pytest.mark.parametrize(("algorithm", "key"), [("aes-gcm-128", KEY), ("aes-gcm-256", KEY * 2)])
def test_gcm_encrypt_equals_the_library_byte_for_byte(tmp_path: Path, plain: Path, algorithm: str, key: str) -> None:
    iv = "0b" * 12
    result = teabox("encrypt", "-a", algorithm, "-k", key, "--iv", iv, "-i", plain, "-o", tmp_path / "cli.enc", "-c")
    assert result.exit_code == 0, result.output
    info = CryptoInfo.from_hex(algorithm, key, iv)
    cmac = encrypt(info, plain, tmp_path / "lib.enc")
    assert result.stdout.strip() == cmac.hex()
    assert (tmp_path / "cli.enc").read_bytes() == (tmp_path / "lib.enc").read_bytes()
    result = teabox(
        "decrypt",
        "--algorithm",
        algorithm,
        "--key",
        key,
        "--iv",
        iv,
        "--input-file",
        tmp_path / "cli.enc",
        "--output-file",
        tmp_path / "cli.out",
        "--print-cmac",
    )
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == cmac.hex()
    assert (tmp_path / "cli.out").read_bytes() == plain.read_bytes()


def test_teaclave_file_cli_and_library_agree(tmp_path: Path, plain: Path) -> None:
    enc = tmp_path / "upload.enc"
    result = teabox("encrypt", "-a", "teaclave-file-128", "-k", KEY, "-i", plain, "-o", enc, "-c")
    assert result.exit_code == 0, result.output
    info = CryptoInfo.from_hex("teaclave-file-128", KEY)
    assert result.stdout.strip() == verify(info, enc).hex()
    lib_out = tmp_path / "lib.out"
    decrypt(info, enc, lib_out)
    result = teabox("decrypt", "-a", "teaclave-file-128", "-k", KEY, "-i", enc, "-o", tmp_path / "cli.out")
    assert result.exit_code == 0, result.output
    assert result.stdout == ""
    assert (tmp_path / "cli.out").read_bytes() == lib_out.read_bytes() == plain.read_bytes()


def test_generated_iv_is_reported_and_decrypts(tmp_path: Path, plain: Path) -> None:
    result = teabox("encrypt", "-a", "aes-gcm-128", "-k", KEY, "-i", plain, "-o", tmp_path / "x.enc")
    assert result.exit_code == 0, result.output
    iv = result.stderr.split("generated IV ")[1].split(":")[0]
    assert len(bytes.fromhex(iv)) == 12
    decrypt(CryptoInfo.from_hex("aes-gcm-128", KEY, iv), tmp_path / "x.enc", tmp_path / "x.out")
    assert (tmp_path / "x.out").read_bytes() == plain.read_bytes()


def test_verify_checks_tag_and_registered_cmac(tmp_path: Path, plain: Path) -> None:
    enc = tmp_path / "v.enc"
    cmac = encrypt(CryptoInfo.from_hex("teaclave-file-128", KEY), plain, enc).hex()
    ok = teabox("verify", "-a", "teaclave-file-128", "-k", KEY, "-i", enc, "--cmac", cmac)
    assert ok.exit_code == 0 and "OK" in ok.stdout and cmac in ok.stdout
    wrong = teabox("verify", "-a", "teaclave-file-128", "-k", KEY, "-i", enc, "--cmac", "00" * 16)
    assert wrong.exit_code == 1
    assert str(enc) in wrong.stderr and "integrity check 'cmac' failed" in wrong.stderr


def test_tampered_file_is_refused_and_nothing_is_written(tmp_path: Path, plain: Path) -> None:
    enc = tmp_path / "t.enc"
    encrypt(CryptoInfo.from_hex("teaclave-file-128", KEY), plain, enc)
    data = bytearray(enc.read_bytes())
    data[-100] ^= 0x40
    enc.write_bytes(data)
    result = teabox("decrypt", "-a", "teaclave-file-128", "-k", KEY, "-i", enc, "-o", tmp_path / "out")
    assert result.exit_code == 1
    assert "data node tag" in result.stderr and str(enc) in result.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["plain.bin", "t.enc"]


def test_usage_errors_name_the_problem(tmp_path: Path, plain: Path) -> None:
    no_iv = teabox("decrypt", "-a", "aes-gcm-128", "-k", KEY, "-i", plain, "-o", tmp_path / "o")
    assert no_iv.exit_code == 2 and "--iv is required" in no_iv.stderr
    short = teabox("encrypt", "-a", "aes-gcm-256", "-k", KEY, "-i", plain, "-o", tmp_path / "o")
    assert short.exit_code == 2 and "needs a 32-byte key" in short.stderr
    iv_for_file = teabox(
        "encrypt", "-a", "teaclave-file-128", "-k", KEY, "--iv", "00" * 12, "-i", plain, "-o", tmp_path / "o"
    )
    assert iv_for_file.exit_code == 2 and "takes no iv" in iv_for_file.stderr
    unknown = teabox("encrypt", "-a", "aes-cbc", "-k", KEY, "-i", plain, "-o", tmp_path / "o")
    assert unknown.exit_code == 2
    assert not (tmp_path / "o").exists()


@needs_fixtures
def test_cli_decrypts_a_teaclave_vector(tmp_path: Path) -> None:
    result = teabox(
        "decrypt",
        "-a",
        "teaclave-file-128",
        "-k",
        "00" * 16,
        "-i",
        FIXTURES / "py_logistic_reg" / "train.enc",
        "-o",
        tmp_path / "train.txt",
        "-c",
        "--cmac",
        "00780510adc603725ec240ab979681f0",
    )
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == "00780510adc603725ec240ab979681f0"
    assert (tmp_path / "train.txt").read_bytes() == (FIXTURES / "py_logistic_reg" / "train.txt").read_bytes()


def test_large_files_get_a_progress_bar_on_stderr(tmp_path: Path, plain: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(crypto_commands, "PROGRESS_THRESHOLD", 0)
    result = teabox("encrypt", "-a", "teaclave-file-128", "-k", KEY, "-i", plain, "-o", tmp_path / "p.enc", "-c")
    assert result.exit_code == 0, result.output
    assert "encrypting plain.bin" in result.stderr
    assert len(bytes.fromhex(result.stdout.strip())) == 16
