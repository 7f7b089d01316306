"""One task run to its end on a real server: a function that returns 0, no data, created and invoked by a data owner."""

from __future__ import annotations

import os

from wasmtime import wat2wasm

from support.platform_api import PASSWORD
from teabox.client import Client
from teabox.testing.local_server import LocalServer

RETURN_ZERO = wat2wasm(
    '(module (memory (export "memory") 1) (func (export "entrypoint") (param i32 i32) (result i32) (i32.const 0)))'
)


def new_user(server: LocalServer, role: str, attribute: str = "") -> Client:
    """A fresh user registered by the server's admin, logged in."""
    with Client(server.url) as admin:
        admin.user_login(server.admin_id, server.admin_password)
        user_id = f"{role.lower()}-{os.urandom(4).hex()}"
        admin.user_register(user_id, PASSWORD, role, attribute)
    client = Client(server.url)
    client.user_login(user_id, PASSWORD)
    return client


def staged_task(server: LocalServer) -> tuple[Client, str]:
    """A task staged on ``server`` (its creator's client, and its id)."""
    vendor = new_user(server, "FunctionOwner")
    function_id = vendor.register_function("zero", "", "wamr", payload=RETURN_ZERO)
    vendor.close()
    creator = new_user(server, "DataOwner", "ops")
    task_id = creator.create_task(function_id, {}, "wamr")
    creator.invoke_task(task_id)
    return creator, task_id


def finished_task(server: LocalServer) -> str:
    """The id of a task that ran to ``Finished`` on one of ``server``'s workers."""
    creator, task_id = staged_task(server)
    with creator:
        result = creator.wait_for_task(task_id, timeout=120)
    assert result.return_value == "0", result
    return task_id
