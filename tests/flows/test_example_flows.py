"""The example flows, run over HTTP against a real ``teabox serve``, with the task's
status checked after every step as Teaclave's flow tests check it."""

from __future__ import annotations

from flow_scripts import IN_FLIGHT, JOIN_RESULT, PSI_COMMON, load_flow
from teaclave_fixtures import FIXTURES, needs_fixtures

from teabox.client import Client
from teabox.client.flows import FlowLog
from teabox.client.millionaire import millionaire_flow


def _quiet_log() -> FlowLog:
    return FlowLog(say=lambda _text: None)


def test_single_user_add_invokes_straight_after_creation(admin_client: Client) -> None:
    log = _quiet_log()
    assert load_flow("add").add_flow(admin_client, log, a=35, b=7) == 42
    created, invoked, read = log.statuses
    assert created == "Created"
    assert invoked in IN_FLIGHT
    assert read == "Finished"


def test_millionaire_two_owners_encrypted_input_and_output(admin_client: Client) -> None:
    log = _quiet_log()
    result = millionaire_flow(admin_client, log)
    assert result.return_value == b"7"
    assert result.verdict == "pf_in_a"
    assert result.richer == "Alice"
    # create, alice assigns, bob assigns, alice approves, bob approves, invoke, both read
    assert log.statuses[:5] == ["Created", "Created", "DataAssigned", "DataAssigned", "Approved"]
    assert log.statuses[5] in IN_FLIGHT
    assert log.statuses[6:] == ["Finished", "Finished"]


def test_millionaire_other_way_round(admin_client: Client) -> None:
    result = millionaire_flow(admin_client, _quiet_log(), alice_wealth=10, bob_wealth=11)
    assert (result.verdict, result.richer) == ("pf_in_b", "Bob")


@needs_fixtures
def test_two_party_psi_with_teaclave_file_128_fixtures(admin_client: Client) -> None:
    log = _quiet_log()
    outputs = load_flow("psi").psi_flow(admin_client, log, FIXTURES)
    assert list(outputs.values()) == [PSI_COMMON, PSI_COMMON]
    assert log.statuses[:5] == ["Created", "Created", "DataAssigned", "DataAssigned", "Approved"]
    assert log.statuses[5] in IN_FLIGHT
    assert log.statuses[6:] == ["Finished", "Finished"]


@needs_fixtures
def test_three_party_private_join_and_compute(admin_client: Client) -> None:
    log = _quiet_log()
    outputs = load_flow("join").join_flow(admin_client, log, FIXTURES)
    assert list(outputs.values()) == [JOIN_RESULT] * 3
    assert log.statuses[:8] == [
        "Created",
        "Created",
        "Created",
        "DataAssigned",
        "DataAssigned",
        "DataAssigned",
        "DataAssigned",
        "Approved",
    ]
    assert log.statuses[8] in IN_FLIGHT
    assert log.statuses[9] == "Finished"
