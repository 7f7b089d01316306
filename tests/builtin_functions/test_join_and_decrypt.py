"""Ordered set join and online decrypt, against Teaclave's vectors and edge cases."""

from __future__ import annotations

import base64
import os

import pytest
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from support.teaclave_fixtures import FIXTURES, needs_fixtures

from .conftest import BuiltinRun, RunBuiltin

JOIN = FIXTURES / "ordered_set_join"


def _join(run_builtin: RunBuiltin, one: bytes, two: bytes, **args: object) -> BuiltinRun:
    arguments = {"left_column": 0, "right_column": 0, "ascending": True, "drop": True, **args}
    return run_builtin(
        "builtin-ordered-set-join", arguments, {"input_data1": one, "input_data2": two}, ("output_result",)
    )


@needs_fixtures
def test_ordered_set_join_vector(run_builtin: RunBuiltin) -> None:
    one, two = (JOIN / "join0.csv").read_bytes(), (JOIN / "join1.csv").read_bytes()
    run = _join(run_builtin, one, two)
    assert run.text == "120 records"
    assert run.outputs["output_result"] == (FIXTURES / "gbdt_training" / "train.txt").read_bytes()
    kept = _join(run_builtin, one, two, drop=False)
    assert kept.outputs["output_result"].split(b"\n")[0] == b"100000,4.8,3.0,1.4,0.3,3.0"


def test_ordered_set_join_quoting_descending_and_byte_order(run_builtin: RunBuiltin) -> None:
    one = b'x,"a ""quoted"", field"\r\n\n99,b\n100,c\n'
    two = b"x,2\n99,3\n100,1\n"
    # Byte order: "100" < "99" < "x"; descending input walks from the largest key.
    run = _join(run_builtin, one, two, ascending=False, drop=False)
    assert run.text == "3 records"
    assert run.outputs["output_result"] == b'x,"a ""quoted"", field",2\n99,b,3\n100,c,1\n'
    swapped = _join(run_builtin, two, one, left_column=1, right_column=1, ascending=True)
    assert swapped.text == "0 records"
    assert swapped.outputs["output_result"] == b""


@pytest.mark.parametrize(
    ("one", "two", "args", "message"),
    [
        (b"", b"1,2", {}, "input1 is empty"),
        (b"1,2", b"\n\n", {}, "input2 is empty"),
        (b"1,2", b"1,2", {"left_column": 2}, "invalid index"),
        (
            b"1,2\n3",
            b"1,2",
            {},
            "CSV error in input_data1, record 2: found record with 1 fields, but the previous record has 2 fields",
        ),
        (b'1,"2', b"1,2", {}, "CSV error in input_data1, record 1: a quoted field is not closed"),
        (b"1,2", b"1,2", {"ascending": "yes"}, "Cannot deserialize arguments: `ascending` must be true or false"),
        (
            b"1,2",
            b"1,2",
            {"left_column": -1},
            "Cannot deserialize arguments: `left_column` must be an unsigned integer",
        ),
    ],
)
def test_ordered_set_join_errors(
    run_builtin: RunBuiltin, one: bytes, two: bytes, args: dict[str, object], message: str
) -> None:
    assert _join(run_builtin, one, two, **args).error == message


NONCE = "AAECAwQFBgcICQoL"
VECTORS = [
    ("aes256gcm", "aqUdgZ0lJnuz9yiPkoDxM6ZcTcVVpd4KKLqzbHD88Lg=", "CaZd8qSMMlBp8SjSXj2I4dQIuC9KkZ5DI/ATo1sWJw=="),
    ("aes128gcm", "aqUdgZ0lJnuz9yiPkoDxMw==", "OqMscYqxk1CshHQZulTrrDlJjS/v6BE/clWJyTerUw=="),
]


def _decrypt(run_builtin: RunBuiltin, algorithm: str, key: str, data: str, nonce: str = NONCE) -> BuiltinRun:
    args = {"key": key, "nonce": nonce, "encrypted_data": data, "algorithm": algorithm}
    return run_builtin("builtin_online_decrypt", args)


@pytest.mark.parametrize(("algorithm", "key", "data"), VECTORS, ids=[v[0] for v in VECTORS])
def test_online_decrypt_vectors(run_builtin: RunBuiltin, algorithm: str, key: str, data: str) -> None:
    assert _decrypt(run_builtin, algorithm, key, data).text == "Hello Teaclave!"


@pytest.mark.parametrize("key_size", [16, 32])
def test_online_decrypt_agrees_with_a_reference_implementation(run_builtin: RunBuiltin, key_size: int) -> None:
    key, nonce = os.urandom(key_size), os.urandom(16)
    for size in (0, 1, 16, 17, 100):
        plain = os.urandom(size).hex()[:size].encode()
        sealed = AESGCM(key).encrypt(nonce[:12], plain, None)
        b64 = [base64.b64encode(x).decode() for x in (key, nonce, sealed)]
        algorithm = "aes128gcm" if key_size == 16 else "aes256gcm"
        assert _decrypt(run_builtin, algorithm, b64[0], b64[2], b64[1]).text == plain.decode()


def test_online_decrypt_errors(run_builtin: RunBuiltin) -> None:
    algorithm, key, data = VECTORS[0]
    tampered = base64.b64encode(bytes([base64.b64decode(data)[0] ^ 1]) + base64.b64decode(data)[1:]).decode()
    assert _decrypt(run_builtin, algorithm, key, tampered).error == "decryption error"
    assert _decrypt(run_builtin, "aes128gcm", key, data).error == "decryption error"  # a 32-byte key
    assert _decrypt(run_builtin, "aes192gcm", key, data).error == "Invalid algorithm (use aes128gcm or aes256gcm)"
    assert _decrypt(run_builtin, algorithm, key, data, nonce="AAECAw==").error == "the nonce is shorter than 12 bytes"
    assert _decrypt(run_builtin, algorithm, key, "Y*==").error == (
        "`encrypted_data` is not valid base64: an invalid character at offset 1"
    )
    key128 = bytes(16)
    not_utf8 = AESGCM(key128).encrypt(bytes(12), b"\xff\xfe", None)
    args = [base64.b64encode(x).decode() for x in (key128, not_utf8)]
    assert _decrypt(run_builtin, "aes128gcm", args[0], args[1], "AAAAAAAAAAAAAAAA").error == (
        "base64 decoded error (the plaintext is not UTF-8)"
    )
