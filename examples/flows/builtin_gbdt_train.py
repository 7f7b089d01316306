#!/usr/bin/env python3
"""Train a gradient boosted tree model on private data with the built-in function.

The port of Teaclave's ``builtin_gbdt_train.py``: a user registers
``builtin-gbdt-train`` without a payload (the platform supplies its bundled
module) with Teaclave's arguments, registers Teaclave's encrypted training
data (``gbdt_training/train.enc``, teaclave-file-128, all-zero key) and an
output under a fresh key, runs the task and decrypts the model. The result
is ``Trained 120 lines of data.`` and the model equals Teaclave's
``expected_model.txt`` byte for byte.

    python3 examples/flows/builtin_gbdt_train.py        # on a throw-away local platform
    TEABOX_ADMIN_PASSWORD=... python3 examples/flows/builtin_gbdt_train.py --url http://127.0.0.1:7777
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from teabox.client import Client, CryptoInfo, DataMap, FunctionArgument, FunctionInput, FunctionOutput, OwnerList
from teabox.demo.flows import FlowLog, new_user, run_flow_script

# Teaclave's test fixtures this flow uses ship beside it in data/ (see data/NOTICE); $TEABOX_FIXTURES
# may name a full copy of Teaclave's fixtures instead.
FIXTURES = Path(os.environ.get("TEABOX_FIXTURES") or Path(__file__).resolve().parent / "data")
ZERO_KEY = CryptoInfo("teaclave-file-128", bytes(16), b"")
ARGUMENTS = {
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


def gbdt_train_flow(admin: Client, log: FlowLog, fixtures: Path = FIXTURES) -> tuple[str, bytes]:
    """Train GBDT on an encrypted input; returns the result and the decrypted model."""
    with new_user(admin, "trainer", "PlatformAdmin") as user:
        assert user.user_id is not None  # new_user logs in
        function_id = user.register_function(
            name="builtin-gbdt-train",
            description="Native Gradient Boosting Decision Tree Training Function",
            executor_type="builtin",
            arguments=[FunctionArgument(key) for key in ARGUMENTS],
            inputs=[FunctionInput("training_data", "Input traning data file.")],
            outputs=[FunctionOutput("trained_model", "Output trained model.")],
        )
        log.step(user, f"registered {function_id}")

        training = user.register_encrypted_input(fixtures / "gbdt_training" / "train.enc", ZERO_KEY)
        model = user.register_hosted_output("gbdt_model.enc")
        log.step(user, "registered train.enc and an output")

        task_id = user.create_task(
            function_id,
            ARGUMENTS,
            "builtin",
            inputs_ownership=[OwnerList("training_data", [user.user_id])],
            outputs_ownership=[OwnerList("trained_model", [user.user_id])],
        )
        log.step(user, f"created {task_id}", task_id)
        user.assign_data_to_task(
            task_id, [DataMap("training_data", training.data_id)], [DataMap("trained_model", model.data_id)]
        )
        log.step(user, "assigned the input and the output", task_id)
        user.approve_task(task_id)
        log.step(user, "approved", task_id)
        user.invoke_task(task_id)
        log.step(user, "invoked", task_id)
        result = user.get_task_result(task_id).decode()
        log.step(user, f"result: {result}", task_id)

        with tempfile.TemporaryDirectory(prefix="teabox-gbdt-") as tmp:
            plain = Path(tmp) / "model.json"
            user.fetch_output(model.data_id, model.crypto, plain)
            trained = plain.read_bytes()
        log.step(user, f"decrypted the model: {len(trained)} bytes")
        return result, trained


if __name__ == "__main__":
    run_flow_script(gbdt_train_flow)
