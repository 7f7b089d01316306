#!/usr/bin/env python3
"""Two-party private set intersection over teaclave-file-128 files.

The port of Teaclave's ``wasm_rust_psi.py``, with the same data: each user
holds a list encrypted in Teaclave's protected-file format
(``wamr_rust_psi/psi0.txt.enc`` and ``psi1.txt.enc``, all-zero key, from
Teaclave's fixtures) and registers it with the platform; each gets the common
lines in an output encrypted under a key only they hold. The payload is
``examples/psi-rust``. The task's status is shown after every step, as
Teaclave's flow checks it.

    python3 examples/flows/psi.py                      # on a throw-away local platform
    TEABOX_ADMIN_PASSWORD=... python3 examples/flows/psi.py --url http://127.0.0.1:7777
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from teabox.client import Client, CryptoInfo, DataMap, FunctionArgument, FunctionInput, FunctionOutput, OwnerList
from teabox.demo.flows import FlowLog, build_payload, new_user, run_flow_script

EXAMPLES = Path(__file__).resolve().parents[1]  # the payload sources beside this directory

# Teaclave's test fixtures this flow uses ship beside it in data/ (see data/NOTICE); $TEABOX_FIXTURES
# may name a full copy of Teaclave's fixtures instead.
FIXTURES = Path(os.environ.get("TEABOX_FIXTURES") or Path(__file__).resolve().parent / "data")
ZERO_KEY = CryptoInfo("teaclave-file-128", bytes(16), b"")


def psi_flow(admin: Client, log: FlowLog, fixtures: Path = FIXTURES) -> dict[str, list[str]]:
    """Two-party private set intersection with teaclave-file-128 inputs and outputs."""
    data = fixtures / "wamr_rust_psi"
    with (
        new_user(admin, "vendor", "FunctionOwner") as vendor,
        new_user(admin, "user0", "DataOwner", "psi") as user0,
        new_user(admin, "user1", "DataOwner", "psi") as user1,
    ):
        function_id = vendor.register_function(
            name="rust-wasm-ordered-set-intersect",
            description="Private set intersection",
            executor_type="wamr",
            payload=build_payload(EXAMPLES / "psi-rust"),
            arguments=[
                FunctionArgument("input1"),
                FunctionArgument("input2"),
                FunctionArgument("output1"),
                FunctionArgument("output2"),
            ],
            inputs=[FunctionInput("input_data1", "Client 0 data."), FunctionInput("input_data2", "Client 1 data.")],
            outputs=[
                FunctionOutput("output_result1", "Output data."),
                FunctionOutput("output_result2", "Output data."),
            ],
        )
        log.step(vendor, f"registered {function_id}")

        task_id = user0.create_task(
            function_id,
            {
                "input1": "input_data1",
                "input2": "input_data2",
                "output1": "output_result1",
                "output2": "output_result2",
            },
            "wamr",
            inputs_ownership=[OwnerList("input_data1", [user0.user_id]), OwnerList("input_data2", [user1.user_id])],
            outputs_ownership=[
                OwnerList("output_result1", [user0.user_id]),
                OwnerList("output_result2", [user1.user_id]),
            ],
        )
        log.step(user0, f"created {task_id}", task_id)

        outputs = {}
        for user, source, input_name, output_name in (
            (user0, data / "psi0.txt.enc", "input_data1", "output_result1"),
            (user1, data / "psi1.txt.enc", "input_data2", "output_result2"),
        ):
            # The fixtures were encrypted by Teaclave under the all-zero key and bound to their file names.
            registered = user.register_encrypted_input(source, ZERO_KEY)
            outputs[user] = user.register_hosted_output(f"output_{source.name}")
            user.assign_data_to_task(
                task_id, [DataMap(input_name, registered.data_id)], [DataMap(output_name, outputs[user].data_id)]
            )
            log.step(
                user, f"registered {source.name} (cmac {registered.cmac.hex()}) and an output, assigned both", task_id
            )

        user0.approve_task(task_id)
        log.step(user0, "approved", task_id)
        user1.approve_task(task_id)
        log.step(user1, "approved", task_id)
        user0.invoke_task(task_id)
        log.step(user0, "invoked", task_id)

        common: dict[str, list[str]] = {}
        with tempfile.TemporaryDirectory(prefix="teabox-psi-") as tmp:
            for user in (user0, user1):
                count = user.get_task_result(task_id).decode()
                plain = Path(tmp) / f"{user.user_id}.txt"
                user.fetch_output(outputs[user].data_id, outputs[user].crypto, plain)
                common[user.user_id] = plain.read_text().splitlines()
                log.step(user, f"result {count}; decrypted own output: {', '.join(common[user.user_id])}", task_id)
        return common


if __name__ == "__main__":
    run_flow_script(psi_flow)
