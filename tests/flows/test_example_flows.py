"""The example flows, run over HTTP against a real ``teabox serve``, with the task's
status checked after every step as Teaclave's flow tests check it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from support.flow_scripts import FLOWS_DIR, IN_FLIGHT, JOIN_RESULT, PSI_COMMON, load_flow
from support.teaclave_fixtures import FIXTURES, needs_fixtures

from teabox.client import Client
from teabox.demo.flows import FlowLog
from teabox.demo.millionaire import millionaire_flow
from teabox.testing.local_server import LocalServer

SHIPPED_DATA = FLOWS_DIR / "data"


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


def test_two_party_psi_with_teaclave_file_128_fixtures(admin_client: Client) -> None:
    log = _quiet_log()
    outputs = load_flow("psi").psi_flow(admin_client, log)  # the fixtures shipped in examples/flows/data
    assert list(outputs.values()) == [PSI_COMMON, PSI_COMMON]
    assert log.statuses[:5] == ["Created", "Created", "DataAssigned", "DataAssigned", "Approved"]
    assert log.statuses[5] in IN_FLIGHT
    assert log.statuses[6:] == ["Finished", "Finished"]


def test_three_party_private_join_and_compute(admin_client: Client) -> None:
    log = _quiet_log()
    outputs = load_flow("join").join_flow(admin_client, log)
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


@needs_fixtures
@pytest.mark.parametrize(
    "name",
    [
        "wamr_rust_psi/psi0.txt.enc",
        "wamr_rust_psi/psi1.txt.enc",
        *(f"private_join_and_compute/three_party_data/bank_{x}.enc" for x in "abc"),
        "gbdt_training/train.enc",
        "ordered_set_intersect/psi0.txt.enc",
        "ordered_set_intersect/psi1.txt.enc",
        "password_check/exposed_passwords.txt.enc",
        "rsa_sign/rsakey.enc",
    ],
)
def test_the_shipped_data_is_teaclaves_fixtures_unchanged(name: str) -> None:
    assert (SHIPPED_DATA / name).read_bytes() == (FIXTURES / name).read_bytes()


@pytest.mark.parametrize(
    ("script", "said"),
    [
        ("psi.py", "decrypted own output: " + ", ".join(PSI_COMMON)),
        ("builtin_rsa_sign.py", "signature: "),  # a built-in's flow: its Teaclave data ships in data/ too
    ],
)
def test_a_flow_script_runs_on_its_own(platform_server: LocalServer, tmp_path: Path, script: str, said: str) -> None:
    """As a user runs it: from another directory, with nothing beside the repository."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("TEABOX_")}
    env["TEABOX_ADMIN_PASSWORD"] = platform_server.admin_password
    done = subprocess.run(
        [sys.executable, str(FLOWS_DIR / script), "--url", platform_server.url],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=env,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    assert said in done.stdout
