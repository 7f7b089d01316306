"""numbers.h, the built-ins' decimal conversions, against Python's exact arithmetic.

A probe payload parses each line as f64 and f32 and prints the shortest
forms (ryu/serde_json and Rust ``{:?}`` layouts) and ``%.10f``/``%.4f``; every
column must equal what Python computes exactly.
"""

from __future__ import annotations

import random
import struct
from decimal import Decimal
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest

from teabox.executor import Executor, MemoryInputs, MemoryOutputs, RunResult
from teabox.toolchain import build

PROBE = Path(__file__).with_name("numbers_probe.c")


def _f32_bits(text: str) -> int:
    """The f32 nearest to the decimal ``text``, ties to even, as bits (exact, no double rounding)."""
    exact = Fraction(Decimal(text))
    if abs(exact) >= 2**128 - 2**103:  # beyond the largest f32 by half an ulp or more
        return 0xFF800000 if exact < 0 else 0x7F800000
    guess = struct.unpack("<I", struct.pack("<f", np.float32(float(text))))[0]
    best = None
    for bits in (guess - 1, guess, guess + 1):
        if not 0 <= bits < 0x7F800000 and not 0x80000000 <= bits < 0xFF800000:
            continue
        value = Fraction(float(struct.unpack("<f", struct.pack("<I", bits))[0]))
        key = (abs(value - exact), bits & 1)
        if best is None or key < best[0]:
            best = (key, bits)
    assert best is not None
    return best[1]


def _layout(digits: str, exponent: int, low: int, high: int, negative: bool) -> str:
    """Lay out 0.digits * 10^exponent as ryu / Rust do (see numbers.h)."""
    sign = "-" if negative else ""
    if low < exponent <= high:
        if exponent <= 0:
            return f"{sign}0.{'0' * -exponent}{digits}"
        whole = digits[:exponent].ljust(exponent, "0")
        return f"{sign}{whole}.{digits[exponent:] or '0'}"
    mantissa = digits[0] + ("." + digits[1:] if len(digits) > 1 else "")
    return f"{sign}{mantissa}e{exponent - 1}"


def _shortest(value: float, low: int, high: int, f32: bool = False) -> str:
    if value == 0:
        return "-0.0" if struct.pack(">d", value)[0] & 0x80 else "0.0"
    text = np.format_float_scientific(np.float32(value), unique=True) if f32 else repr(value)
    sign, digit_tuple, exponent = Decimal(text).as_tuple()
    digits = "".join(map(str, digit_tuple)).rstrip("0") or "0"
    assert isinstance(exponent, int)
    return _layout(digits, len(digit_tuple) + exponent, low, high, bool(sign))


def _expected(text: str) -> str:
    value = float(text)
    f32_bits = _f32_bits(text)
    f32 = struct.unpack("<f", struct.pack("<I", f32_bits))[0]
    return "\t".join(
        [
            struct.pack(">d", value).hex(),
            _shortest(value, -5, 16),
            _shortest(value, -4, 16),
            "%.10f" % value,  # noqa: UP031 - C's and Python's %-formatting is the reference
            "%.4f" % value,  # noqa: UP031
            f"{f32_bits:08x}",
            _shortest(f32, -6, 13, f32=True) if abs(f32) != float("inf") else "inf",
        ]
    )


def _cases() -> list[str]:
    rng = random.Random(20261201)
    cases = ["1.5619560125603997", "0.1", "-2.5", "1e16", "1e-5", "9.99e-5", "2.45", "1.6500001", "0", "-0.0"]
    cases += ["0.5", "2.5", "0.00005", "1e23", "5e-324", "2.2250738585072014e-308", "1.7976931348623157e308"]
    cases += ["0.125", "1.00000005", "3.4028235e38", "1.1754944e-38", "+7", "7.", ".5", "1E3", "0.30000000000000004"]
    for _ in range(300):  # every double pattern, printed by Python and read back
        bits = rng.getrandbits(64) & ~(0x7FF << 52) | (rng.randrange(0x3A0, 0x460) << 52)
        cases.append(repr(struct.unpack("<d", struct.pack("<Q", bits))[0]))
    for _ in range(300):  # short decimals, as in data files
        cases.append(f"{rng.choice('-+') if rng.random() < 0.2 else ''}{rng.randrange(10**6)}.{rng.randrange(10**4)}")
    for _ in range(100):  # long decimals and halfway points of f32
        cases.append(f"{rng.random() * 10 ** rng.randrange(-8, 12):.25g}")
        f = np.float32(rng.random())
        cases.append(str(Decimal(float(f)) + Decimal(float(np.spacing(f))) / 2))
    return cases


def _probe(executor: Executor, tmp_path: Path, lines: list[str]) -> tuple[RunResult, bytes]:
    payload = build([PROBE], tmp_path / "probe.wasm").wasm
    outputs = MemoryOutputs(["out"])
    result = executor.run(payload, inputs=MemoryInputs({"in": "\n".join(lines).encode() + b"\n"}), outputs=outputs)
    return result, outputs.results.get("out", b"")


def test_parsing_and_printing_agree_with_python_exactly(builtin_executor: Executor, tmp_path: Path) -> None:
    cases = _cases()
    result, out = _probe(builtin_executor, tmp_path, cases)
    assert result.ok, result.failure
    got = out.decode().splitlines()
    assert len(got) == len(cases)
    for text, line in zip(cases, got, strict=True):
        assert line == _expected(text), text


@pytest.mark.parametrize("text", ["", "-", "1e", "abc", "1.2.3", " 1", "0x10", "1_000"])
def test_malformed_numbers_are_refused(builtin_executor: Executor, tmp_path: Path, text: str) -> None:
    assert _probe(builtin_executor, tmp_path, [text])[1] == b"error\n"
