"""Yao's millionaire problem as a two-party task: the flow ``teabox quickstart`` runs.

Alice and Bob each encrypt their wealth on their own machine and give the
platform only ciphertext. A function owner publishes the payload built from
``millionaire.c`` beside this module (``examples/millionaire-c`` links to it);
Alice creates the task, both bind their data and approve, Alice invokes it,
and the payload writes the data name of the richer party's input to Alice's
encrypted output, which only she can decrypt. The platform checks every tag
and every approval on the way.

The payload has a single output, so the verdict goes to one owner (Alice);
Bob learns the run's result (the number of bytes written) and that his data
was used only as he approved.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from teabox.client.client import DEFAULT_WAIT_SECONDS, Client
from teabox.client.errors import ClientError, Forbidden
from teabox.client.requests import DataMap, FunctionInput, FunctionOutput, OwnerList
from teabox.demo.flows import FlowLog, build_payload, new_user

ALICE_WEALTH = 4211037
BOB_WEALTH = 1008611
# The payload's source ships in the package, so that an installed teabox can build it.
MILLIONAIRE_SOURCE = Path(__file__).with_name("millionaire.c")


@dataclass(frozen=True)
class MillionaireResult:
    task_id: str
    return_value: bytes  # as each participant reads it
    verdict: str  # the output Alice decrypted: the data name of the richer input, or "equal"
    richer: str  # "Alice", "Bob" or "neither"


def millionaire_payload(on_first_build: Callable[[str], None] | None = None) -> bytes:
    """The millionaire payload, built from the package's ``millionaire.c`` (cached after the first build)."""
    return build_payload(MILLIONAIRE_SOURCE, on_first_build)


def millionaire_flow(
    admin: Client,
    log: FlowLog,
    *,
    alice_wealth: int = ALICE_WEALTH,
    bob_wealth: int = BOB_WEALTH,
    result_timeout: float = DEFAULT_WAIT_SECONDS,
) -> MillionaireResult:
    """Two data owners find out who is richer without showing each other their wealth."""
    log.note("== Yao's millionaire problem: two data owners, encrypted inputs, an encrypted output ==")
    with (
        new_user(admin, "vendor", "FunctionOwner") as vendor,
        new_user(admin, "alice", "DataOwner", "north-bank") as alice,
        new_user(admin, "bob", "DataOwner", "south-bank") as bob,
    ):
        return _run(log, vendor, alice, bob, alice_wealth, bob_wealth, result_timeout)


def _run(
    log: FlowLog, vendor: Client, alice: Client, bob: Client, alice_wealth: int, bob_wealth: int, result_timeout: float
) -> MillionaireResult:
    log.step("admin", f"registered {vendor.user_id} (FunctionOwner), {alice.user_id} and {bob.user_id} (DataOwners)")

    payload = millionaire_payload()
    function_id = vendor.register_function(
        name="millionaire",
        description="Names the richer of two parties and nothing else.",
        executor_type="wamr",
        payload=payload,
        inputs=[
            FunctionInput("pf_in_a", "the first party's wealth"),
            FunctionInput("pf_in_b", "the second party's wealth"),
        ],
        outputs=[FunctionOutput("pf_out", "the data name of the richer party's input")],
    )
    log.step(vendor, f"registered the public function {function_id} ({len(payload)}-byte payload)")

    assert alice.user_id is not None and bob.user_id is not None  # new_user logged both in
    task_id = alice.create_task(
        function_id,
        {},
        "wamr",
        inputs_ownership=[OwnerList("pf_in_a", [alice.user_id]), OwnerList("pf_in_b", [bob.user_id])],
        outputs_ownership=[OwnerList("pf_out", [alice.user_id])],
    )
    log.step(alice, f"created {task_id}", task_id)

    with tempfile.TemporaryDirectory(prefix="teabox-millionaire-") as tmp:
        work = Path(tmp)
        (work / "alice.txt").write_text(f"{alice_wealth}\n")
        (work / "bob.txt").write_text(f"{bob_wealth}\n")

        alice_in = alice.register_local_input(work / "alice.txt")
        alice_out = alice.register_hosted_output("verdict.enc")
        log.step(
            alice,
            f"encrypted her wealth locally (cmac {alice_in.cmac.hex() if alice_in.cmac else '-'}), "
            f"uploaded it and registered an output under her own key",
        )
        alice.assign_data_to_task(
            task_id, [DataMap("pf_in_a", alice_in.data_id)], [DataMap("pf_out", alice_out.data_id)]
        )
        log.step(alice, "assigned pf_in_a and pf_out", task_id)

        bob_in = bob.register_local_input(work / "bob.txt")
        bob.assign_data_to_task(task_id, [DataMap("pf_in_b", bob_in.data_id)], [])
        log.step(bob, "encrypted and uploaded his wealth, assigned pf_in_b", task_id)

        alice.approve_task(task_id)
        log.step(alice, "approved", task_id)
        bob.approve_task(task_id)
        log.step(bob, "approved", task_id)

        alice.invoke_task(task_id)
        log.step(alice, "invoked the task", task_id)

        return_value = alice.get_task_result(task_id, timeout=result_timeout)
        log.step(alice, f"read the result: {return_value.decode()}", task_id)
        log.step(bob, f"read the result: {bob.get_task_result(task_id, timeout=result_timeout).decode()}", task_id)

        alice.fetch_output(alice_out.data_id, alice_out.crypto, work / "verdict.txt")
        verdict = (work / "verdict.txt").read_text()
        log.step(alice, f"downloaded her output, checked its tag and decrypted it: {verdict!r}")
        try:
            bob.fetch_output(alice_out.data_id, alice_out.crypto, work / "stolen.txt")
        except Forbidden as refused:
            log.step(bob, f"tried to download Alice's output and was refused ({refused.status} {refused.code})")
        else:
            raise ClientError("the platform let Bob download Alice's output")

    richer = {"pf_in_a": "Alice", "pf_in_b": "Bob"}.get(verdict, "neither")
    log.note(
        f"== {richer} is richer; neither party saw the other's number =="
        if richer != "neither"
        else "== they are equally rich =="
    )
    return MillionaireResult(task_id=task_id, return_value=return_value, verdict=verdict, richer=richer)
