"""Principal components analysis against Teaclave's vector and numpy.

Tolerance: 1e-9 absolute on every projected value, after flipping each
component's sign to match, because an SVD fixes components only up to sign
(LAPACK and the payload's Jacobi rotations agree to about 1e-15).
"""

from __future__ import annotations

import io

import numpy as np
from support.teaclave_fixtures import FIXTURES, needs_fixtures

from .conftest import BuiltinRun, RunBuiltin

PCA = FIXTURES / "princopal_components_analysis"
TOLERANCE = 1e-9


def _pca(run_builtin: RunBuiltin, data: bytes, **args: object) -> BuiltinRun:
    arguments = {"n": 2, "center": True, "feature_size": 4, **args}
    return run_builtin("builtin_principal_components_analysis", arguments, {"input_data": data}, ("output_data",))


def _matrix(text: bytes) -> np.ndarray:
    return np.loadtxt(io.BytesIO(text), delimiter=",", ndmin=2)


def _aligned_error(got: np.ndarray, expected: np.ndarray) -> float:
    signs = np.where((got * expected).sum(axis=0) < 0, -1.0, 1.0)
    return float(np.abs(got * signs - expected).max())


@needs_fixtures
def test_matches_teaclaves_result(run_builtin: RunBuiltin) -> None:
    run = _pca(run_builtin, (PCA / "input.txt").read_bytes())
    assert run.text == "transform 90 rows * 2 cols lines of data."
    got, expected = _matrix(run.outputs["output_data"]), _matrix((PCA / "expected_result.txt").read_bytes())
    assert got.shape == expected.shape == (90, 2)
    assert _aligned_error(got, expected) < TOLERANCE
    # Rust's {:?} layout: shortest digits, one row per line.
    first = run.outputs["output_data"].split(b"\n")[0].split(b",")
    assert [abs(float(v)) for v in first] == [2.415456360585087, 0.20881505750478396]


def test_matches_numpy_without_centring(run_builtin: RunBuiltin) -> None:
    rng = np.random.default_rng(7)
    data = rng.normal(size=(30, 5)) @ rng.normal(size=(5, 5))
    text = "\n".join(",".join(repr(float(v)) for v in row) + ",0" for row in data).encode()
    run = _pca(run_builtin, text, n=3, center=False, feature_size=5)
    _, _, vt = np.linalg.svd(data, full_matrices=False)
    assert _aligned_error(_matrix(run.outputs["output_data"]), data @ vt[:3].T) < TOLERANCE


def test_errors(run_builtin: RunBuiltin) -> None:
    assert _pca(run_builtin, b"1,2,3,4,5\n", n=5).error == "n is larger than feature_size"
    assert _pca(run_builtin, b"1,2,3,4\n").error == (
        "Data format error: column len = 4, expected = 5 on line 1 of input_data"
    )
    assert _pca(run_builtin, b"1,2,3,4,5\n", center="yes").error == (
        "Cannot deserialize arguments: `center` must be true or false"
    )
