"""Which built-in functions exist, what each expects, and where its source and module are."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
SOURCES = HERE / "src"
MODULES = HERE / "wasm"


@dataclass(frozen=True)
class Builtin:
    """One built-in: Teaclave's registered name and the contract a task must meet."""

    name: str
    stem: str  # file stem of src/<stem>.c and wasm/<stem>.wasm
    summary: str
    arguments: tuple[str, ...] = ()
    inputs: tuple[str, ...] = ()
    outputs: tuple[str, ...] = ()

    @property
    def source(self) -> Path:
        return SOURCES / f"{self.stem}.c"

    @property
    def module(self) -> Path:
        return MODULES / f"{self.stem}.wasm"

    def payload(self) -> bytes:
        return self.module.read_bytes()

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "summary": self.summary,
            "arguments": list(self.arguments),
            "inputs": list(self.inputs),
            "outputs": list(self.outputs),
        }


# Names are Teaclave's, underscores and all: scripts register them verbatim.
BUILTINS: dict[str, Builtin] = {
    b.name: b
    for b in (
        Builtin("builtin-echo", "echo", "Returns the argument `message` verbatim.", ("message",)),
        Builtin(
            "builtin-password-check",
            "password_check",
            "`true` if the first line of `password` is one of the lines of `exposed_passwords`, else `false`.",
            (),
            ("password", "exposed_passwords"),
        ),
        Builtin(
            "builtin-ordered-set-intersect",
            "ordered_set_intersect",
            "Marks the items two sorted hex lists share; result `<n> common items`.",
            ("order",),
            ("input_data1", "input_data2"),
            ("output_result1", "output_result2"),
        ),
        Builtin(
            "builtin-ordered-set-join",
            "ordered_set_join",
            "Merge join of two CSV tables sorted on their key columns; result `<count> records`.",
            ("left_column", "right_column", "ascending", "drop"),
            ("input_data1", "input_data2"),
            ("output_result",),
        ),
        Builtin(
            "builtin-private-join-and-compute",
            "private_join_and_compute",
            "Names listed by every party with their summed amounts, sent to every party.",
            ("num_user",),
            ("input_data0", "input_data1", "...", "input_data<num_user-1>"),
            ("output_data0", "output_data1", "...", "output_data<num_user-1>"),
        ),
        Builtin(
            "builtin_online_decrypt",
            "online_decrypt",
            "AES-GCM decryption (aes128gcm or aes256gcm) of base64 arguments; the result is the plaintext.",
            ("key", "nonce", "encrypted_data", "algorithm"),
        ),
        Builtin(
            "builtin-logistic-regression-train",
            "logistic_regression_train",
            "Trains binary logistic regression by gradient descent; writes the JSON model.",
            ("alg_alpha", "alg_iters", "feature_size"),
            ("training_data",),
            ("model_file",),
        ),
        Builtin(
            "builtin-logistic-regression-predict",
            "logistic_regression_predict",
            "Probabilities from a logistic regression model, one `%.4f` line per row.",
            (),
            ("model_file", "data_file"),
            ("result_file",),
        ),
        Builtin(
            "builtin-gbdt-train",
            "gbdt_train",
            "Trains gradient boosted regression trees (gbdt-rs); writes the JSON model.",
            (
                "feature_size",
                "max_depth",
                "iterations",
                "shrinkage",
                "feature_sample_ratio",
                "data_sample_ratio",
                "min_leaf_size",
                "loss",
                "training_optimization_level",
            ),
            ("training_data",),
            ("trained_model",),
        ),
        Builtin(
            "builtin-gbdt-predict",
            "gbdt_predict",
            "Predictions of a GBDT model, one `%.10f` line per row.",
            (),
            ("model_file", "data_file"),
            ("result_file",),
        ),
        Builtin(
            "builtin_principal_components_analysis",
            "principal_components_analysis",
            "Projects rows onto their first `n` principal components (SVD).",
            ("n", "center", "feature_size"),
            ("input_data",),
            ("output_data",),
        ),
        Builtin(
            "builtin-rsa-sign",
            "rsa_sign",
            "RSASSA-PKCS1-v1_5 / SHA-256 signature of `data` with a PKCS#1 DER key; the result is base64.",
            ("data",),
            ("rsa_key",),
        ),
        Builtin(
            "builtin-face-detection",
            "face_detection",
            "NOT FUNCTIONAL: checks the arguments and decodes the JPEG `image`, then fails, because the "
            "SeetaFace model it needs is not shipped.",
            (
                "image",
                "window_size",
                "slide_window_step_x",
                "slide_window_step_y",
                "min_face_size",
                "max_face_size",
                "pyramid_scale_factor",
                "score_thresh",
            ),
        ),
    )
}


def find(name: str) -> Builtin | None:
    return BUILTINS.get(name)
