#!/usr/bin/env python3
"""Two users mark which of their sorted items the other holds, with the built-in function.

The port of Teaclave's ``builtin_ordered_set_intersect.py``: a vendor
registers ``builtin-ordered-set-intersect`` without a payload (the platform
supplies its bundled WebAssembly module); two users each register a sorted
list of hex items (Teaclave's ``ordered_set_intersect`` fixtures,
teaclave-file-128 under the all-zero key) and an output, approve, and read
back one `0`/`1` mark per item of their own list. The task's result is
``3 common items``.

    python3 examples/flows/builtin_ordered_set_intersect.py        # on a throw-away local platform
    TEABOX_ADMIN_PASSWORD=... python3 examples/flows/builtin_ordered_set_intersect.py --url http://127.0.0.1:7777
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


def ordered_set_intersect_flow(admin: Client, log: FlowLog, fixtures: Path = FIXTURES) -> tuple[str, list[str]]:
    """Ordered set intersection of two parties' lists; returns the result and each party's marks."""
    data = fixtures / "ordered_set_intersect"
    with (
        new_user(admin, "user0", "PlatformAdmin") as user0,
        new_user(admin, "user1", "DataOwner", "psi") as user1,
    ):
        assert user0.user_id is not None and user1.user_id is not None  # new_user logs in
        function_id = user0.register_function(
            name="builtin-ordered-set-intersect",
            description="Native Private Set Intersection",
            executor_type="builtin",
            arguments=[FunctionArgument("order", "")],
            inputs=[FunctionInput("input_data1", "Client 0 data."), FunctionInput("input_data2", "Client 1 data.")],
            outputs=[
                FunctionOutput("output_result1", "Output data."),
                FunctionOutput("output_result2", "Output data."),
            ],
        )
        log.step(user0, f"registered {function_id}")

        task_id = user0.create_task(
            function_id,
            {"order": "ascending"},
            "builtin",
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
            registered = user.register_encrypted_input(source, ZERO_KEY)
            outputs[user] = user.register_hosted_output(f"output_{source.name}")
            user.assign_data_to_task(
                task_id, [DataMap(input_name, registered.data_id)], [DataMap(output_name, outputs[user].data_id)]
            )
            log.step(user, f"registered {source.name} and an output, assigned both", task_id)

        for user in (user0, user1):
            user.approve_task(task_id)
            log.step(user, "approved", task_id)
        user0.invoke_task(task_id)
        log.step(user0, "invoked", task_id)
        result = user0.get_task_result(task_id).decode()
        log.step(user0, f"result: {result}", task_id)

        marks = []
        with tempfile.TemporaryDirectory(prefix="teabox-osi-") as tmp:
            for user in (user0, user1):
                plain = Path(tmp) / f"{user.user_id}.txt"
                user.fetch_output(outputs[user].data_id, outputs[user].crypto, plain)
                marks.append(plain.read_text())
                log.step(user, f"decrypted own output: {marks[-1]}")
        return result, marks


if __name__ == "__main__":
    run_flow_script(ordered_set_intersect_flow)
