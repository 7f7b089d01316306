"""Running one owner's task through the real service, for the tests of what workers may reach."""

from __future__ import annotations

from collections.abc import Callable

from wasmtime import wat2wasm

from support.wat_imports import HOST_IMPORTS
from teabox.client import Client, DataMap, FunctionInput, FunctionOutput, OwnerList, TaskFailed

_COPY_WAT = f"""(module {HOST_IMPORTS}
  (memory (export "memory") 1)
  (data (i32.const 0) "in\\00")
  (data (i32.const 8) "out\\00")
  (func (export "entrypoint") (param i32 i32) (result i32) (local $in i32) (local $out i32) (local $n i32)
    (local.set $in (call $open (i32.const 0)))
    (local.set $out (call $create (i32.const 8)))
    (block $done (loop $next
      (local.set $n (call $read (local.get $in) (i32.const 1024) (i32.const 4096)))
      (br_if $done (i32.le_s (local.get $n) (i32.const 0)))
      (drop (call $write (local.get $out) (i32.const 1024) (local.get $n)))
      (br $next)))
    (drop (call $close (local.get $in)))
    (drop (call $close (local.get $out)))
    (i32.const 0)))
"""

_WRITE_WAT = f"""(module {HOST_IMPORTS}
  (memory (export "memory") 1)
  (data (i32.const 8) "out\\00")
  (data (i32.const 16) "a body the attacker chose")
  (func (export "entrypoint") (param i32 i32) (result i32) (local $out i32)
    (local.set $out (call $create (i32.const 8)))
    (drop (call $write (local.get $out) (i32.const 16) (i32.const 25)))
    (drop (call $close (local.get $out)))
    (i32.const 0)))
"""


def copy_function(vendor: Client) -> str:
    """A function that copies its input ``in`` to its output ``out``."""
    return vendor.register_function(
        "copy", "", "wamr", payload=wat2wasm(_COPY_WAT), inputs=[FunctionInput("in")], outputs=[FunctionOutput("out")]
    )


def write_function(vendor: Client) -> str:
    """A function without inputs that writes a fixed body to its output ``out``."""
    return vendor.register_function("write", "", "wamr", payload=wat2wasm(_WRITE_WAT), outputs=[FunctionOutput("out")])


def run_alone(owner: Client, function_id: str, inputs: dict[str, str], outputs: dict[str, str]) -> str:
    """Create, assign, approve and invoke a task whose every file is ``owner``'s; returns the task id
    once it has ended (successfully: raises TaskFailed otherwise)."""
    task_id = owner.create_task(
        function_id,
        {},
        "wamr",
        inputs_ownership=[OwnerList(name, [owner.user_id]) for name in inputs],
        outputs_ownership=[OwnerList(name, [owner.user_id]) for name in outputs],
    )
    owner.assign_data_to_task(
        task_id,
        [DataMap(name, data_id) for name, data_id in inputs.items()],
        [DataMap(name, data_id) for name, data_id in outputs.items()],
    )
    owner.approve_task(task_id)
    owner.invoke_task(task_id)
    owner.wait_for_task(task_id, timeout=120)
    return task_id


def failure_of(run: Callable[[], object]) -> TaskFailed:
    """The TaskFailed a run raised (an AssertionError if it finished)."""
    try:
        run()
    except TaskFailed as failed:
        return failed
    raise AssertionError("the task finished, but it should have failed")
