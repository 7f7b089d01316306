"""AES-GCM nonce reuse: one output (key, IV) pair never encrypts two plaintexts, whatever the calls.

Reproduces finding 8 through the real service, as an attacker would try it:
(1) ``update_output_file`` copied an output's key and IV into a new record,
and (2) an output whose PUT succeeded while a sibling output failed stayed
unwritten and could be bound to another task. Either way two ciphertexts of
different plaintexts under one (key, IV) came out, and C1 xor C2 xor P2 gave
P1 away. Each test makes the attacker's calls and asserts they are refused,
and that the attacker's server holds one ciphertext under the pair only.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import wasmtime
from alembic import command
from support.http_server import Behaviour, Recorder, recording_server
from support.platform_api import login
from support.wat_imports import HOST_IMPORTS

from teabox.client import Client
from teabox.client.errors import ApiError, TaskFailed
from teabox.client.requests import DataMap, FunctionInput, FunctionOutput, OwnerList
from teabox.platform.db import Database, alembic_config
from teabox.platform.file_keys import FileKeys
from teabox.platform.storage import Storage
from teabox.testing.local_server import LocalServer

KEY = bytes(range(16))
IV = bytes(range(200, 212))
SECRET = b"first-owners-confidential-verdict-42"
CHOSEN = b"attacker-chosen-plaintext-same-size"
WAIT = 120.0


def _copy_payload(outputs: list[str]) -> bytes:
    """Copies input 'in' (up to 4 KiB) to each of ``outputs``."""
    names = {"in": 0}
    data = ['(data (i32.const 0) "in\\00")']
    offset = 3
    for name in outputs:
        names[name] = offset
        data.append(f'(data (i32.const {offset}) "{name}\\00")')
        offset += len(name) + 1
    writes = " ".join(
        f"(local.set $out (call $create (i32.const {names[name]})))"
        "(drop (call $write (local.get $out) (i32.const 1024) (local.get $n)))"
        "(drop (call $close (local.get $out)))"
        for name in outputs
    )
    text = f"""(module {HOST_IMPORTS}
      (memory (export "memory") 1)
      {" ".join(data)}
      (func (export "entrypoint") (param i32 i32) (result i32) (local $in i32) (local $n i32) (local $out i32)
        (local.set $in (call $open (i32.const 0)))
        (local.set $n (call $read (local.get $in) (i32.const 1024) (i32.const 4096)))
        (drop (call $close (local.get $in)))
        {writes}
        (i32.const 0)))"""
    return bytes(wasmtime.wat2wasm(text))


@dataclass
class Parties:
    owner: Client
    functions: dict[str, str]  # output names joined by "," -> function id

    def run(self, plaintext: bytes, outputs: dict[str, str]) -> str:
        """Create, bind and invoke a task copying ``plaintext`` to ``outputs`` (data name -> data id)."""
        function_id = self.functions[",".join(sorted(outputs))]
        me = [self.owner.user_id]
        task_id = self.owner.create_task(
            function_id,
            inputs_ownership=[OwnerList("in", me)],
            outputs_ownership=[OwnerList(name, me) for name in outputs],
        )
        source = self.owner.register_input_file("data:," + plaintext.decode(), "raw", b"", b"", None)
        self.owner.assign_data_to_task(
            task_id, [DataMap("in", source)], [DataMap(name, data_id) for name, data_id in outputs.items()]
        )
        self.owner.invoke_task(task_id)
        return task_id


@pytest.fixture
def parties(make_user: Callable[..., Client]) -> Parties:
    return _parties(make_user)


def _parties(make_user: Callable[..., Client], **where: Any) -> Parties:
    """A function owner's copy functions and a data owner, on the shared server or ``where`` says."""
    vendor = make_user("nonce-vendor", "FunctionOwner", **where)
    owner = make_user("nonce-owner", "DataOwner", "nonce", **where)
    functions = {}
    for outputs in (["out"], ["a_out", "b_out"]):
        functions[",".join(outputs)] = vendor.register_function(
            "copy",
            "copies its input to its outputs",
            "wamr",
            payload=_copy_payload(outputs),
            inputs=[FunctionInput("in", "")],
            outputs=[FunctionOutput(name, "") for name in outputs],
        )
    return Parties(owner, functions)


def _attempt(call: Callable[[], Any]) -> Any:
    """What the attacker gets: the call's answer, or the refusal's code."""
    try:
        return call()
    except ApiError as exc:
        return exc.code


def test_update_output_file_never_gives_a_used_key_and_iv_a_second_plaintext(parties: Parties) -> None:
    owner = parties.owner
    written = owner.register_output_file(owner.reserve_file("verdict.enc").url, "aes-gcm-128", KEY, IV)
    owner.wait_for_task(parties.run(SECRET, {"out": written}), WAIT)
    # The attack: move the written output to a new URL (same key and IV), then have a task write there.
    moved = _attempt(lambda: owner.update_output_file(written, owner.reserve_file("verdict-2.enc").url))
    assert moved == "output_already_written"


def test_an_output_moved_by_update_output_file_retires(parties: Parties) -> None:
    owner = parties.owner
    unused = owner.register_output_file(owner.reserve_file("a.enc").url, "aes-gcm-128", KEY, IV)
    moved = owner.update_output_file(unused, owner.reserve_file("b.enc").url)
    # The old record no longer carries the pair: it can be neither bound, nor moved again.
    task_id = owner.create_task(
        parties.functions["out"],
        inputs_ownership=[OwnerList("in", [owner.user_id])],
        outputs_ownership=[OwnerList("out", [owner.user_id])],
    )
    assert _attempt(lambda: owner.assign_data_to_task(task_id, [], [DataMap("out", unused)])) == "output_replaced"
    assert _attempt(lambda: owner.update_output_file(unused, owner.reserve_file("c.enc").url)) == "output_replaced"
    # The new one can be moved only while no task has it.
    owner.assign_data_to_task(task_id, [], [DataMap("out", moved)])
    again = _attempt(lambda: owner.update_output_file(moved, owner.reserve_file("d.enc").url))
    assert again == "output_already_assigned"


@pytest.fixture
def recorder() -> Iterator[Recorder]:
    """An HTTP server of the attacker's: keeps every PUT body, fails every PUT under /b/ (the one path the
    test writes there), and answers a DELETE while keeping the bytes it was sent (``puts``)."""
    with recording_server(behaviour=Behaviour(fail={"/b/verdict.enc": 500})) as server:
        yield server


def test_a_sibling_failure_never_frees_an_output_whose_write_began(
    make_user: Callable[..., Client], start_platform_server: Callable[..., LocalServer], recorder: Recorder
) -> None:
    # The attacker's server is on loopback: a platform whose operator allows exactly that address.
    server = start_platform_server(workers=1, extra_args=("--allow-url", recorder.base.removeprefix("http://")))
    with login(server, server.admin_id, server.admin_password) as admin:
        parties = _parties(make_user, server=server, admin=admin)
    owner = parties.owner
    delivered = owner.register_output_file(f"{recorder.base}/a/verdict.enc", "aes-gcm-128", KEY, IV)
    failing = owner.register_output_file(f"{recorder.base}/b/verdict.enc", "aes-gcm-128", KEY[::-1], IV[::-1])
    with pytest.raises(TaskFailed) as failed:
        owner.wait_for_task(parties.run(SECRET, {"a_out": delivered, "b_out": failing}), WAIT)
    assert failed.value.kind == "output_error"
    assert len(recorder.behaviour.puts["/a/verdict.enc"]) == 1, (
        "the first PUT reached the server before its sibling failed"
    )

    # The attack: bind the output that was delivered (and then "withdrawn") to a task of one's choosing.
    task_id = owner.create_task(
        parties.functions["out"],
        inputs_ownership=[OwnerList("in", [owner.user_id])],
        outputs_ownership=[OwnerList("out", [owner.user_id])],
    )
    source = owner.register_input_file("data:," + CHOSEN.decode(), "raw", b"", b"", None)
    bound = _attempt(lambda: owner.assign_data_to_task(task_id, [DataMap("in", source)], [DataMap("out", delivered)]))
    assert bound == "output_key_used"
    assert len(recorder.behaviour.puts["/a/verdict.enc"]) == 1
    # Nor can the owner move the pair to a new record.
    moved = _attempt(lambda: owner.update_output_file(delivered, f"{recorder.base}/a/other.enc"))
    assert moved == "output_key_used"


def test_the_upgrade_burns_outputs_of_tasks_that_ran_before_it(tmp_path: Path) -> None:
    """Before revision 0004 no write was recorded: an output bound to a task a worker claimed may be out."""
    data_dir = tmp_path / "data"
    data_dir.mkdir(mode=0o700)
    keys = FileKeys.load(data_dir)
    config = alembic_config(Database.for_data_dir(data_dir).url)
    config.attributes["file_keys"] = keys
    command.upgrade(config, "0003_keys")
    with sqlite3.connect(data_dir / "teabox.db") as old:
        for file_id in ("output-ran", "output-idle"):
            old.execute(
                "INSERT INTO files (id, kind, url, schema, sealed_key, fusion, created_at) "
                "VALUES (?, 'output', 'data:,x', 'aes-gcm-128', ?, 0, 0)",
                (file_id, keys.seal(file_id, KEY, IV)),
            )
        for task_id, attempt, file_id in (("task-ran", 1, "output-ran"), ("task-idle", 0, "output-idle")):
            old.execute(
                "INSERT INTO tasks (id, creator, function_id, function_owner, executor, payload_sha256, limits, "
                "function_arguments, inputs_ownership, outputs_ownership, status, attempt, created_at, updated_at) "
                "VALUES (?, 'u', 'f', 'o', 'wamr', '', '{}', '{}', '{}', '{}', 'Failed', ?, 0, 0)",
                (task_id, attempt),
            )
            old.execute("INSERT INTO task_data VALUES (?, 'output', 'out', ?)", (task_id, file_id))
    Storage.open(data_dir).close()
    with sqlite3.connect(data_dir / "teabox.db") as migrated:
        burnt = dict(migrated.execute("SELECT id, write_task FROM files"))
    assert burnt == {"output-ran": "task-ran", "output-idle": None}
