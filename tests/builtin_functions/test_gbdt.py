"""GBDT training and prediction against Teaclave's vectors.

Tolerance: none. gbdt-rs computes in f32 with f64 sums and fixed tie rules;
the payload follows them, so the model and the predictions must equal
Teaclave's bytes.
"""

from __future__ import annotations

import json

import pytest
from support.teaclave_fixtures import FIXTURES, needs_fixtures

from .conftest import BuiltinRun, RunBuiltin

TRAIN = FIXTURES / "gbdt_training"
PREDICT = FIXTURES / "gbdt_prediction"
ARGS = {
    "feature_size": 4,
    "max_depth": 4,
    "iterations": 100,
    "shrinkage": 0.1,
    "feature_sample_ratio": 1.0,
    "data_sample_ratio": 1.0,
    "min_leaf_size": 1,
    "loss": "LAD",
    "training_optimization_level": 2,
}


def _train(run_builtin: RunBuiltin, data: bytes, **args: object) -> BuiltinRun:
    return run_builtin("builtin-gbdt-train", {**ARGS, **args}, {"training_data": data}, ("trained_model",))


def _predict(run_builtin: RunBuiltin, model: bytes, data: bytes) -> BuiltinRun:
    return run_builtin("builtin-gbdt-predict", {}, {"model_file": model, "data_file": data}, ("result_file",))


@needs_fixtures
def test_training_reproduces_teaclaves_model_byte_for_byte(run_builtin: RunBuiltin) -> None:
    run = _train(run_builtin, (TRAIN / "train.txt").read_bytes())
    assert run.text == "Trained 120 lines of data."
    assert run.outputs["trained_model"] == (TRAIN / "expected_model.txt").read_bytes()


@needs_fixtures
def test_prediction_reproduces_teaclaves_results(run_builtin: RunBuiltin) -> None:
    run = _predict(run_builtin, (PREDICT / "model.txt").read_bytes(), (PREDICT / "test_data.txt").read_bytes())
    assert run.text == "Predict result has 30 lines of data."
    assert run.outputs["result_file"] == (PREDICT / "expected_result.txt").read_bytes()


@pytest.mark.parametrize("loss", ["SquaredError", "LogLikelyhood", "reg:linear"])
def test_other_losses_train_and_predict(run_builtin: RunBuiltin, loss: str) -> None:
    rows = [f"{x},{x * 0.5},{1 if x > 4 else -1}" for x in range(10)]
    run = _train(run_builtin, "\n".join(rows).encode(), feature_size=2, iterations=5, max_depth=2, loss=loss)
    model = json.loads(run.outputs["trained_model"])
    expected_loss = "LogLikelyhood" if loss == "LogLikelyhood" else "SquaredError"
    assert model["conf"]["loss"] == expected_loss and len(model["trees"]) == 5
    predictions = [
        float(v)
        for v in _predict(run_builtin, run.outputs["trained_model"], b"0,0\n9,4.5\n").outputs["result_file"].split()
    ]
    if loss == "LogLikelyhood":  # probabilities of the label 1
        assert predictions[0] < 0.5 < predictions[1]
    else:
        assert predictions[0] < 0 < predictions[1]


def test_sampling_is_reproducible(run_builtin: RunBuiltin) -> None:
    rows = "\n".join(f"{x},{x % 3},{x % 2}" for x in range(40)).encode()
    first = _train(run_builtin, rows, feature_size=2, iterations=3, data_sample_ratio=0.5, feature_sample_ratio=0.5)
    again = _train(run_builtin, rows, feature_size=2, iterations=3, data_sample_ratio=0.5, feature_sample_ratio=0.5)
    assert first.outputs == again.outputs
    assert json.loads(first.outputs["trained_model"])["conf"]["data_sample_ratio"] == 0.5


def test_errors(run_builtin: RunBuiltin) -> None:
    assert _train(run_builtin, b"1,2,3\n").error == (
        "Data format error: column len = 3, expected = 5 on line 1 of training_data"
    )
    assert _train(run_builtin, b"1,2,3,4,5\n", max_depth=-1).error == (
        "Cannot deserialize arguments: `max_depth` must be an unsigned integer"
    )
    assert _train(run_builtin, b"1,2,3,4,5\n", data_sample_ratio=0).error == (
        "feature_sample_ratio and data_sample_ratio must be above 0 and at most 1"
    )
    model = _train(run_builtin, b"1,2,3,4,5\n2,3,4,5,6\n", iterations=1).outputs["trained_model"]
    assert _predict(run_builtin, model, b"1, ,3,4\n").error == "Empty feature on line 1 of data_file"
    assert _predict(run_builtin, b'{"conf":{}}', b"1\n").error == (
        "the model file is not a GBDT model: `trees` is missing or malformed"
    )
