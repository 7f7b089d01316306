"""A payload's output bits do not depend on the machine, the run or the isolation mode.

x86 produces NaNs with the sign bit set (0xffc00000 for 0/0) and relaxed SIMD
instructions whose results differ between CPUs; the engines canonicalise NaNs
and run relaxed SIMD deterministically, so a retried run re-encrypting its
output under the same key and IV writes the same ciphertext.
"""

from __future__ import annotations

import struct
from pathlib import Path

from teabox.executor import Executor, MemoryOutputs

from .conftest import entry

# Writes, to output "out": f32 0/0, f64 sqrt(-1), f32 (0/0)*1, and the four lanes of a relaxed
# truncation of a NaN vector and of a relaxed multiply-add of NaNs.
NANS = entry(
    "(local.set $fd (call $create (i32.const 0)))"
    "(f32.store (i32.const 16) (f32.div (f32.const 0) (f32.const 0)))"
    "(f64.store (i32.const 20) (f64.sqrt (f64.const -1)))"
    "(f32.store (i32.const 28) (f32.mul (f32.div (f32.const 0) (f32.const 0)) (f32.const 1)))"
    "(v128.store (i32.const 32) (i32x4.relaxed_trunc_f32x4_s (f32x4.splat (f32.div (f32.const 0) (f32.const 0)))))"
    "(v128.store (i32.const 48) (f32x4.relaxed_madd (f32x4.splat (f32.const 1e30)) (f32x4.splat (f32.const 1e30))"
    " (f32x4.splat (f32.const -inf))))"
    "(drop (call $write (local.get $fd) (i32.const 16) (i32.const 48)))"
    "(i32.const 0)",
    data='(data (i32.const 0) "out\\00")',
    locals_="(local $fd i32)",
)

CANONICAL_F32 = 0x7FC00000
CANONICAL_F64 = 0x7FF8000000000000
NEGATIVE_INFINITY_F32 = 0xFF800000


def _run(executor: Executor) -> bytes:
    outputs = MemoryOutputs(["out"])
    result = executor.run(NANS, outputs=outputs)
    assert result.ok, result.failure
    return outputs.results["out"]


def test_nans_are_canonical_and_identical_across_runs_and_isolation(tmp_path: Path) -> None:
    outputs = []
    for isolation in ("in-process", "subprocess"):
        executor = Executor(tmp_path / isolation, isolation=isolation)  # type: ignore[arg-type]
        try:
            outputs += [_run(executor), _run(executor)]
        finally:
            executor.close()
    assert len(set(outputs)) == 1
    data = outputs[0]
    f32_div, f64_sqrt, f32_mul = struct.unpack_from("<IQI", data)
    assert (f32_div, f64_sqrt, f32_mul) == (CANONICAL_F32, CANONICAL_F64, CANONICAL_F32)
    # Deterministic relaxed truncation gives 0 for NaN lanes (x86's native one gives 0x80000000).
    assert struct.unpack_from("<4i", data, 16) == (0, 0, 0, 0)
    # Deterministic relaxed multiply-add is fused: 1e30 * 1e30 stays finite, and adding -inf gives -inf
    # (unfused, the product overflows to +inf and the sum is a NaN).
    assert struct.unpack_from("<4I", data, 32) == (NEGATIVE_INFINITY_F32,) * 4


def test_compiled_module_cache_key_names_the_determinism_settings() -> None:
    """An artifact compiled without canonical NaNs must never be loaded by an engine that has them."""
    from teabox.executor.engine import EngineSpec

    fingerprint = EngineSpec(epoch=False, fuel=False, stack=1 << 20).fingerprint
    assert "nan_canonical=1" in fingerprint
    assert "relaxed_simd_deterministic=1" in fingerprint
