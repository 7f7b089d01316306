#!/usr/bin/env python3
"""Three banks join their customer lists and learn only the shared customers' totals.

The port of Teaclave's ``builtin_private_join_and_compute.py`` with a
WebAssembly payload (``examples/join-c``): three banks each register an
encrypted list of ``name : amount`` lines (Teaclave's
``private_join_and_compute/three_party_data`` fixtures, teaclave-file-128,
all-zero key) and an output under their own key; a fourth user creates the
task, approves it as a participant and invokes it. Every bank receives the
names present at all three banks with the sum of their amounts.

    python3 examples/flows/join.py                      # on a throw-away local platform
    TEABOX_ADMIN_PASSWORD=... python3 examples/flows/join.py --url http://127.0.0.1:7777
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
BANKS = ("bank_a", "bank_b", "bank_c")


def join_flow(admin: Client, log: FlowLog, fixtures: Path = FIXTURES) -> dict[str, str]:
    """Three-party private join and compute: shared customers and their summed amounts."""
    data = fixtures / "private_join_and_compute" / "three_party_data"
    parties = len(BANKS)
    with (
        new_user(admin, "vendor", "FunctionOwner") as vendor,
        new_user(admin, "analyst", "DataOwner", "audit") as analyst,
    ):
        banks = [new_user(admin, name, "DataOwner", name) for name in BANKS]
        try:
            function_id = vendor.register_function(
                name="private-join-and-compute",
                description="Names at every bank, with summed amounts.",
                executor_type="wamr",
                payload=build_payload(EXAMPLES / "join-c"),
                arguments=[FunctionArgument("num_user")],
                inputs=[FunctionInput(f"input_data{i}", f"bank {i}'s list") for i in range(parties)],
                outputs=[FunctionOutput(f"output_data{i}", f"bank {i}'s copy of the result") for i in range(parties)],
            )
            log.step(vendor, f"registered {function_id}")

            task_id = analyst.create_task(
                function_id,
                {"num_user": parties},
                "wamr",
                inputs_ownership=[OwnerList(f"input_data{i}", [b.user_id]) for i, b in enumerate(banks)],
                outputs_ownership=[OwnerList(f"output_data{i}", [b.user_id]) for i, b in enumerate(banks)],
            )
            log.step(analyst, f"created {task_id} for {parties} banks", task_id)

            outputs = {}
            for i, (bank, name) in enumerate(zip(banks, BANKS, strict=False)):
                registered = bank.register_encrypted_input(data / f"{name}.enc", ZERO_KEY)
                outputs[bank.user_id] = bank.register_hosted_output(f"{name}_result.enc")
                bank.assign_data_to_task(
                    task_id,
                    [DataMap(f"input_data{i}", registered.data_id)],
                    [DataMap(f"output_data{i}", outputs[bank.user_id].data_id)],
                )
                log.step(bank, f"registered {name}.enc and an output, assigned both", task_id)
            for bank in banks:
                bank.approve_task(task_id)
                log.step(bank, "approved", task_id)
            analyst.approve_task(task_id)
            log.step(analyst, "approved (the creator is a participant too)", task_id)
            analyst.invoke_task(task_id)
            log.step(analyst, "invoked", task_id)
            log.step(analyst, f"result: {analyst.get_task_result(task_id).decode()} shared customers", task_id)

            results = {}
            with tempfile.TemporaryDirectory(prefix="teabox-join-") as tmp:
                for bank in banks:
                    plain = Path(tmp) / f"{bank.user_id}.txt"
                    bank.fetch_output(outputs[bank.user_id].data_id, outputs[bank.user_id].crypto, plain)
                    results[bank.user_id] = plain.read_text()
                    log.step(bank, f"decrypted own output: {results[bank.user_id].strip().replace(chr(10), '; ')}")
            return results
        finally:
            for bank in banks:
                bank.close()


if __name__ == "__main__":
    run_flow_script(join_flow)
