#!/usr/bin/env python3
"""Single-user add: one participant creates a task and invokes it straight away.

The port of Teaclave's ``wasm_c_simple_add.py``: a function owner publishes
the ``examples/add-c`` payload; a data owner, the task's only participant,
creates a task with two arguments and invokes it without any approval step
(a single-participant task needs none), then reads the sum.

    python3 examples/flows/add.py                      # on a throw-away local platform
    TEABOX_ADMIN_PASSWORD=... python3 examples/flows/add.py --url http://127.0.0.1:7777
"""

from __future__ import annotations

from pathlib import Path

from teabox.client import Client, FunctionArgument
from teabox.demo.flows import FlowLog, build_payload, new_user, run_flow_script

EXAMPLES = Path(__file__).resolve().parents[1]  # the payload sources beside this directory


def add_flow(admin: Client, log: FlowLog, a: int = 35, b: int = 7) -> int:
    """Single-user add: register a function, create a task, invoke it, read the sum."""
    with new_user(admin, "vendor", "FunctionOwner") as vendor, new_user(admin, "user", "DataOwner", "lab") as user:
        function_id = vendor.register_function(
            name="add",
            description="Adds the arguments a and b.",
            executor_type="wamr",
            payload=build_payload(EXAMPLES / "add-c"),
            arguments=[FunctionArgument("a"), FunctionArgument("b")],
        )
        log.step(vendor, f"registered {function_id}")
        task_id = user.create_task(function_id, {"a": a, "b": b}, "wamr")
        log.step(user, f"created {task_id} with a={a}, b={b}", task_id)
        user.invoke_task(task_id)
        log.step(user, "invoked it", task_id)
        total = int(user.get_task_result(task_id))
        log.step(user, f"read the result: {total}", task_id)
        return total


if __name__ == "__main__":
    run_flow_script(add_flow)
