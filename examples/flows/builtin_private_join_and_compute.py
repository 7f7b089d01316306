#!/usr/bin/env python3
"""Three banks learn the customers they share and their summed amounts, with the built-in function.

The port of Teaclave's ``builtin_private_join_and_compute.py``: a user
registers ``builtin-private-join-and-compute`` without a payload (the
platform supplies its bundled module) and creates the task; three banks each
register Teaclave's encrypted ``name : amount`` list (teaclave-file-128,
all-zero key) and an output under their own key, and approve. Every bank
receives ``c, 470000`` and ``e, 5033000``; the task's result is
``3 users join the task in total.``

    python3 examples/flows/builtin_private_join_and_compute.py        # on a throw-away local platform
    TEABOX_ADMIN_PASSWORD=... python3 examples/flows/builtin_private_join_and_compute.py --url http://127.0.0.1:7777
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
BANKS = ("bank_a", "bank_b", "bank_c")


def builtin_join_flow(admin: Client, log: FlowLog, fixtures: Path = FIXTURES) -> tuple[str, dict[str, str]]:
    """Three-party private join and compute; returns the result and each bank's decrypted output."""
    data = fixtures / "private_join_and_compute" / "three_party_data"
    parties = len(BANKS)
    with new_user(admin, "organiser", "PlatformAdmin") as organiser:
        banks = [new_user(admin, name, "DataOwner", name) for name in BANKS]
        bank_ids = [bank.user_id for bank in banks if bank.user_id is not None]  # new_user logs each in
        try:
            function_id = organiser.register_function(
                name="builtin-private-join-and-compute",
                description="Native Private Join And Compute",
                executor_type="builtin",
                arguments=[FunctionArgument("num_user")],
                inputs=[FunctionInput(f"input_data{i}", f"Bank {i} data file.") for i in range(parties)],
                outputs=[FunctionOutput(f"output_data{i}", f"Output data of bank {i}.") for i in range(parties)],
            )
            log.step(organiser, f"registered {function_id}")

            task_id = organiser.create_task(
                function_id,
                {"num_user": parties},
                "builtin",
                inputs_ownership=[OwnerList(f"input_data{i}", [uid]) for i, uid in enumerate(bank_ids)],
                outputs_ownership=[OwnerList(f"output_data{i}", [uid]) for i, uid in enumerate(bank_ids)],
            )
            log.step(organiser, f"created {task_id} for {parties} banks", task_id)

            outputs = {}
            for i, (bank, uid, name) in enumerate(zip(banks, bank_ids, BANKS, strict=True)):
                registered = bank.register_encrypted_input(data / f"{name}.enc", ZERO_KEY)
                outputs[uid] = bank.register_hosted_output(f"{name}_result.enc")
                bank.assign_data_to_task(
                    task_id,
                    [DataMap(f"input_data{i}", registered.data_id)],
                    [DataMap(f"output_data{i}", outputs[uid].data_id)],
                )
                log.step(bank, f"registered {name}.enc and an output, assigned both", task_id)
            for bank in banks:
                bank.approve_task(task_id)
                log.step(bank, "approved", task_id)
            organiser.approve_task(task_id)
            log.step(organiser, "approved (the creator is a participant too)", task_id)
            organiser.invoke_task(task_id)
            log.step(organiser, "invoked", task_id)
            result = organiser.get_task_result(task_id).decode()
            log.step(organiser, f"result: {result}", task_id)

            received = {}
            with tempfile.TemporaryDirectory(prefix="teabox-pjc-") as tmp:
                for bank, uid in zip(banks, bank_ids, strict=True):
                    plain = Path(tmp) / f"{uid}.txt"
                    bank.fetch_output(outputs[uid].data_id, outputs[uid].crypto, plain)
                    received[uid] = plain.read_text()
                    log.step(bank, f"decrypted own output: {received[uid].strip().replace(chr(10), '; ')}")
            return result, received
        finally:
            for bank in banks:
                bank.close()


if __name__ == "__main__":
    run_flow_script(builtin_join_flow)
