"""One task run to its end on a real server: a function that returns 0, no data, created and invoked by a data owner."""

from __future__ import annotations

import os
from contextlib import ExitStack

from wasmtime import wat2wasm

from support.platform_api import PASSWORD, login
from teabox.client import Client
from teabox.testing.local_server import LocalServer

RETURN_ZERO = wat2wasm(
    '(module (memory (export "memory") 1) (func (export "entrypoint") (param i32 i32) (result i32) (i32.const 0)))'
)


def new_user(server: LocalServer, role: str, attribute: str = "") -> Client:
    """A fresh user registered by the server's admin, logged in: the caller's to close."""
    with login(server, server.admin_id, server.admin_password) as admin:
        user_id = f"{role.lower()}-{os.urandom(4).hex()}"
        admin.user_register(user_id, PASSWORD, role, attribute)
    return login(server, user_id, PASSWORD)


def staged_task(server: LocalServer, closer: ExitStack) -> tuple[Client, str]:
    """A task staged on ``server`` (its creator's client, which ``closer`` closes, and its id)."""
    with new_user(server, "FunctionOwner") as vendor:
        function_id = vendor.register_function("zero", "", "wamr", payload=RETURN_ZERO)
    creator = closer.enter_context(new_user(server, "DataOwner", "ops"))
    task_id = creator.create_task(function_id, {}, "wamr")
    creator.invoke_task(task_id)
    return creator, task_id


def finished_task(server: LocalServer) -> str:
    """The id of a task that ran to ``Finished`` on one of ``server``'s workers."""
    with ExitStack() as closer:
        creator, task_id = staged_task(server, closer)
        result = creator.wait_for_task(task_id, timeout=120)
    assert result.return_value == "0", result
    return task_id
