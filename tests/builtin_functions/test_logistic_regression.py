"""Logistic regression training and prediction against Teaclave's vectors.

Tolerance: none. The model and the predictions must equal Teaclave's bytes,
because the payload reproduces rulinalg's summation order and computes exp
and log correctly rounded, as glibc does.
"""

from __future__ import annotations

import json

from support.teaclave_fixtures import FIXTURES, needs_fixtures

from .conftest import BuiltinRun, RunBuiltin

TRAIN = FIXTURES / "logistic_regression_training"
PREDICT = FIXTURES / "logistic_regression_prediction"
ARGS = {"alg_alpha": 0.3, "alg_iters": 100, "feature_size": 30}


def _train(run_builtin: RunBuiltin, data: bytes, **args: object) -> BuiltinRun:
    return run_builtin("builtin-logistic-regression-train", {**ARGS, **args}, {"training_data": data}, ("model_file",))


def _predict(run_builtin: RunBuiltin, model: bytes, data: bytes) -> BuiltinRun:
    return run_builtin(
        "builtin-logistic-regression-predict", {}, {"model_file": model, "data_file": data}, ("result_file",)
    )


@needs_fixtures
def test_training_reproduces_teaclaves_model_byte_for_byte(run_builtin: RunBuiltin) -> None:
    run = _train(run_builtin, (TRAIN / "train.txt").read_bytes())
    assert run.text == "Trained 100 lines of data."
    assert run.outputs["model_file"] == (TRAIN / "expected_model.txt").read_bytes()


@needs_fixtures
def test_prediction_reproduces_teaclaves_results(run_builtin: RunBuiltin) -> None:
    run = _predict(run_builtin, (PREDICT / "model.txt").read_bytes(), (PREDICT / "predict_input.txt").read_bytes())
    assert run.text == "Predicted 5 lines of data."
    assert run.outputs["result_file"] == (PREDICT / "expected_result.txt").read_bytes()


def test_training_on_separable_data_learns_the_labels(run_builtin: RunBuiltin) -> None:
    rows = [f"{x},{1 if x > 0 else 0}" for x in (-3, -2, -1.5, -1, 1, 1.5, 2, 3)]
    run = _train(run_builtin, "\n".join(rows).encode(), alg_alpha=1, alg_iters=200, feature_size=1)
    model = json.loads(run.outputs["model_file"])
    assert model["alpha"] == 1.0 and model["iters"] == 200 and len(model["parameters"]) == 2
    predicted = _predict(run_builtin, run.outputs["model_file"], b"-2\n2\n").outputs["result_file"].split()
    assert float(predicted[0]) < 0.1 < 0.9 < float(predicted[1])


def test_errors(run_builtin: RunBuiltin) -> None:
    assert _train(run_builtin, b"1,2,0\n").error == (
        "Data format error: column len = 3, expected = 31 on line 1 of training_data"
    )
    assert _train(run_builtin, b"1,0\n\n", feature_size=1).error == "Empty line on line 2 of training_data"
    assert _train(run_builtin, b"1,x\n", feature_size=1).error == "invalid float literal `x` on line 1 of training_data"
    assert _train(run_builtin, b"1,0\n", feature_size=1, alg_alpha=0).error == "alg_alpha must be above 0"
    assert _train(run_builtin, b"1,0\n", feature_size=1, alg_alpha="fast").error == (
        "Cannot deserialize arguments: `alg_alpha` must be a number"
    )
    assert _predict(run_builtin, b"[1,", b"1\n").error == "the model file is not JSON: unexpected end of input"
    assert _predict(run_builtin, b'{"parameters":[0.5,1]}', b"1,2\n").error == (
        "Data format error: column len = 2, expected = 1 on line 1 of data_file"
    )
