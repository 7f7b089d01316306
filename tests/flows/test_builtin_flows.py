"""The ports of Teaclave's built-in examples, run over HTTP against a real ``teabox serve``."""

from __future__ import annotations

from support.flow_scripts import IN_FLIGHT, load_flow
from support.teaclave_fixtures import FIXTURES, needs_fixtures

from teabox.client import Client
from teabox.demo.flows import FlowLog


def _quiet_log() -> FlowLog:
    return FlowLog(say=lambda _text: None)


@needs_fixtures
def test_builtin_private_join_and_compute_over_three_banks(admin_client: Client) -> None:
    log = _quiet_log()
    result, outputs = load_flow("builtin_private_join_and_compute").builtin_join_flow(admin_client, log, FIXTURES)
    assert result == "3 users join the task in total."
    assert len(outputs) == 3
    for text in outputs.values():
        assert len(text) == 21 and set(text.splitlines()) == {"c, 470000", "e, 5033000"}
    assert log.statuses[8] in IN_FLIGHT and log.statuses[9] == "Finished"


@needs_fixtures
def test_builtin_ordered_set_intersect(admin_client: Client) -> None:
    log = _quiet_log()
    result, marks = load_flow("builtin_ordered_set_intersect").ordered_set_intersect_flow(admin_client, log, FIXTURES)
    assert result == "3 common items"
    assert marks == ["0101010", "01101"]
    assert log.statuses[:5] == ["Created", "Created", "DataAssigned", "DataAssigned", "Approved"]


@needs_fixtures
def test_builtin_password_check_with_an_inline_data_url(admin_client: Client) -> None:
    log = _quiet_log()
    assert load_flow("builtin_password_check").password_check_flow(admin_client, log, FIXTURES) == "true"
    assert log.statuses[-2] in IN_FLIGHT and log.statuses[-1] == "Finished"


@needs_fixtures
def test_builtin_gbdt_training_gives_teaclaves_model(admin_client: Client) -> None:
    log = _quiet_log()
    result, model = load_flow("builtin_gbdt_train").gbdt_train_flow(admin_client, log, FIXTURES)
    assert result == "Trained 120 lines of data."
    assert model == (FIXTURES / "gbdt_training" / "expected_model.txt").read_bytes()
    assert log.statuses[-1] == "Finished"


@needs_fixtures
def test_builtin_rsa_sign_with_another_users_key(admin_client: Client) -> None:
    log = _quiet_log()
    signature = load_flow("builtin_rsa_sign").rsa_sign_flow(admin_client, log, FIXTURES)
    assert signature == (FIXTURES / "rsa_sign" / "expected_rsasign.txt").read_text().rstrip("\n")
    assert log.statuses[-1] == "Finished"
