#!/usr/bin/env python3
"""Is my password among the exposed ones? Asked without showing the password to the list's owner.

The port of Teaclave's ``builtin_password_check.py``: the list's owner
registers ``builtin-password-check`` (no payload: the platform supplies its
bundled module) and Teaclave's encrypted list of exposed passwords
(teaclave-file-128, all-zero key). The user asking sends the password inline
as an ``aes-gcm-128`` ``data:`` URL, exactly as Teaclave's script does. Both
approve; the task's result is ``true``.

    python3 examples/flows/builtin_password_check.py        # on a throw-away local platform
    TEABOX_ADMIN_PASSWORD=... python3 examples/flows/builtin_password_check.py --url http://127.0.0.1:7777
"""

from __future__ import annotations

import os
from pathlib import Path

from teabox.client import Client, CryptoInfo, DataMap, FunctionInput, OwnerList
from teabox.demo.flows import FlowLog, new_user, run_flow_script

# Teaclave's test fixtures this flow uses ship beside it in data/ (see data/NOTICE); $TEABOX_FIXTURES
# may name a full copy of Teaclave's fixtures instead.
FIXTURES = Path(os.environ.get("TEABOX_FIXTURES") or Path(__file__).resolve().parent / "data")
ZERO_KEY = CryptoInfo("teaclave-file-128", bytes(16), b"")
# Teaclave's inline input: "password" under aes-gcm-128 with a zero key and IV; the last 16 bytes are the tag.
PASSWORD_URL = "data:text/plain;base64,c+mpvRfZ0fboR0j3rTgOGDBiubSzlCt9"
PASSWORD_CMAC = bytes.fromhex("e84748f7ad380e183062b9b4b3942b7d")


def password_check_flow(admin: Client, log: FlowLog, fixtures: Path = FIXTURES) -> str:
    """Check a password against an exposed-password list owned by someone else; returns the result."""
    with (
        new_user(admin, "list_owner", "PlatformAdmin") as owner,
        new_user(admin, "user", "DataOwner", "password") as user,
    ):
        assert owner.user_id is not None and user.user_id is not None  # new_user logs in
        function_id = owner.register_function(
            name="builtin-password-check",
            description="Check whether a password is exposed.",
            executor_type="builtin",
            inputs=[FunctionInput("password", "Client 0 data."), FunctionInput("exposed_passwords", "Client 1 data.")],
        )
        log.step(owner, f"registered {function_id}")

        task_id = owner.create_task(
            function_id,
            {},
            "builtin",
            inputs_ownership=[
                OwnerList("password", [user.user_id]),
                OwnerList("exposed_passwords", [owner.user_id]),
            ],
        )
        log.step(owner, f"created {task_id}", task_id)

        exposed = owner.register_encrypted_input(fixtures / "password_check" / "exposed_passwords.txt.enc", ZERO_KEY)
        owner.assign_data_to_task(task_id, [DataMap("exposed_passwords", exposed.data_id)], [])
        log.step(owner, "registered exposed_passwords.txt.enc and assigned it", task_id)

        password_id = user.register_input_file(PASSWORD_URL, "aes-gcm-128", bytes(16), bytes(12), PASSWORD_CMAC)
        user.assign_data_to_task(task_id, [DataMap("password", password_id)], [])
        log.step(user, "registered the password as an inline aes-gcm-128 data: URL and assigned it", task_id)

        for party in (owner, user):
            party.approve_task(task_id)
            log.step(party, "approved", task_id)
        owner.invoke_task(task_id)
        log.step(owner, "invoked", task_id)
        result = user.get_task_result(task_id).decode()
        log.step(user, f"result: {result}", task_id)
        return result


if __name__ == "__main__":
    run_flow_script(password_check_flow)
