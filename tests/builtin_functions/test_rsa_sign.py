"""RSA signing against Teaclave's vector and the cryptography package."""

from __future__ import annotations

import base64

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from support.teaclave_fixtures import FIXTURES, needs_fixtures

from .conftest import BuiltinRun, RunBuiltin

RSA = FIXTURES / "rsa_sign"


def _sign(run_builtin: RunBuiltin, key: bytes, data: str = "test data") -> BuiltinRun:
    return run_builtin("builtin-rsa-sign", {"data": data}, {"rsa_key": key})


def _der(key: rsa.RSAPrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.DER, serialization.PrivateFormat.TraditionalOpenSSL, serialization.NoEncryption()
    )


@needs_fixtures
def test_signature_equals_teaclaves(run_builtin: RunBuiltin) -> None:
    expected = (RSA / "expected_rsasign.txt").read_text()
    assert _sign(run_builtin, (RSA / "key.der").read_bytes()).text == expected.rstrip("\n")


@pytest.mark.parametrize("bits", [2048, 3072, 4096])
def test_signatures_verify_and_match_a_reference(run_builtin: RunBuiltin, bits: int) -> None:
    key = rsa.generate_private_key(public_exponent=65537, key_size=bits)
    message = "ünïcode and a longer text that spans more than one SHA-256 block " * 3
    signature = base64.b64decode(_sign(run_builtin, _der(key), message).text, validate=True)
    assert signature == key.sign(message.encode(), padding.PKCS1v15(), hashes.SHA256())
    key.public_key().verify(signature, message.encode(), padding.PKCS1v15(), hashes.SHA256())


def test_key_refusals(run_builtin: RunBuiltin) -> None:
    small = rsa.generate_private_key(public_exponent=65537, key_size=1024)
    assert _sign(run_builtin, _der(small)).error == "TooSmall (the key has fewer than 2048 bits)"
    assert _sign(run_builtin, b"not a key").error == "InvalidEncoding (rsa_key is not a DER RSAPrivateKey)"
    der = bytearray(_der(rsa.generate_private_key(public_exponent=65537, key_size=2048)))
    der[40] ^= 0x10  # inside the modulus: n is no longer p * q
    assert _sign(run_builtin, bytes(der)).error == "InconsistentComponents"
    assert run_builtin("builtin-rsa-sign", {}, {"rsa_key": bytes(der)}).error == (
        "Cannot deserialize arguments: `data` is missing"
    )
