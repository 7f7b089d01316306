#!/usr/bin/env python3
"""Sign with a private key its owner never hands over, with the built-in function.

The port of Teaclave's ``builtin_rsa_sign.py``: the key's owner registers
Teaclave's encrypted RSA key (``rsa_sign/rsakey.enc``, teaclave-file-128,
all-zero key); a second user registers ``builtin-rsa-sign`` without a payload
(the platform supplies its bundled module), creates the task with
``data`` = ``test data``, and both approve. The result is the base64
signature in Teaclave's ``expected_rsasign.txt``.

    python3 examples/flows/builtin_rsa_sign.py        # on a throw-away local platform
    TEABOX_ADMIN_PASSWORD=... python3 examples/flows/builtin_rsa_sign.py --url http://127.0.0.1:7777
"""

from __future__ import annotations

import os
from pathlib import Path

from teabox.client import Client, CryptoInfo, DataMap, FunctionArgument, FunctionInput, OwnerList
from teabox.demo.flows import FlowLog, new_user, run_flow_script

# Teaclave's test fixtures this flow uses ship beside it in data/ (see data/NOTICE); $TEABOX_FIXTURES
# may name a full copy of Teaclave's fixtures instead.
FIXTURES = Path(os.environ.get("TEABOX_FIXTURES") or Path(__file__).resolve().parent / "data")
ZERO_KEY = CryptoInfo("teaclave-file-128", bytes(16), b"")


def rsa_sign_flow(admin: Client, log: FlowLog, fixtures: Path = FIXTURES) -> str:
    """Sign ``test data`` with another user's encrypted key; returns the base64 signature."""
    with (
        new_user(admin, "rsa_sign_user1", "DataOwner", "rsa") as key_owner,
        new_user(admin, "rsa_sign_user2", "PlatformAdmin") as signer,
    ):
        assert key_owner.user_id is not None  # new_user logs in
        function_id = signer.register_function(
            name="builtin-rsa-sign",
            description="Native Rsa Signing Function",
            executor_type="builtin",
            arguments=[FunctionArgument("data")],
            inputs=[FunctionInput("rsa_key", "Input key file.")],
        )
        log.step(signer, f"registered {function_id}")

        task_id = signer.create_task(
            function_id,
            {"data": "test data"},
            "builtin",
            inputs_ownership=[OwnerList("rsa_key", [key_owner.user_id])],
        )
        log.step(signer, f"created {task_id}", task_id)

        key = key_owner.register_encrypted_input(fixtures / "rsa_sign" / "rsakey.enc", ZERO_KEY)
        key_owner.assign_data_to_task(task_id, [DataMap("rsa_key", key.data_id)], [])
        log.step(key_owner, "registered rsakey.enc and assigned it", task_id)

        for party in (key_owner, signer):
            party.approve_task(task_id)
            log.step(party, "approved", task_id)
        signer.invoke_task(task_id)
        log.step(signer, "invoked", task_id)
        signature = signer.get_task_result(task_id).decode()
        log.step(signer, f"signature: {signature[:24]}... ({len(signature)} characters)", task_id)
        return signature


if __name__ == "__main__":
    run_flow_script(rsa_sign_flow)
