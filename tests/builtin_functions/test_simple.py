"""echo, password check, ordered set intersect and private join and compute, against Teaclave's vectors."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner
from support.teaclave_fixtures import FIXTURES, needs_fixtures

from teabox.builtins import find
from teabox.cli.main import main

from .conftest import RunBuiltin

PSI = FIXTURES / "ordered_set_intersect"
BANKS = FIXTURES / "private_join_and_compute" / "three_party_data"
PASSWORDS = FIXTURES / "password_check"


def test_echo_returns_the_message(run_builtin: RunBuiltin) -> None:
    assert run_builtin("builtin-echo", {"message": "Hello Teaclave!"}).text == "Hello Teaclave!"
    assert run_builtin("builtin-echo", {"message": ""}).text == ""
    assert run_builtin("builtin-echo", {"message": "ünï 𝄞"}).text == "ünï 𝄞"


def test_echo_without_message_cannot_deserialize(run_builtin: RunBuiltin) -> None:
    assert run_builtin("builtin-echo", {"text": "hi"}).error == "Cannot deserialize arguments: `message` is missing"


@needs_fixtures
def test_password_check_finds_the_exposed_password(run_builtin: RunBuiltin) -> None:
    exposed = (PASSWORDS / "exposed_passwords.txt").read_bytes()
    run = run_builtin(
        "builtin-password-check",
        {},
        {"password": (PASSWORDS / "password.txt").read_bytes(), "exposed_passwords": exposed},
    )
    assert run.text == "true"
    # The example's inline input has no newline; surrounding whitespace is trimmed; the match is case-sensitive.
    assert (
        run_builtin("builtin-password-check", {}, {"password": b"  password \r\n", "exposed_passwords": exposed}).text
        == "true"
    )
    assert (
        run_builtin("builtin-password-check", {}, {"password": b"Password", "exposed_passwords": exposed}).text
        == "false"
    )


def test_password_check_errors(run_builtin: RunBuiltin) -> None:
    assert run_builtin("builtin-password-check", {}, {"password": b"", "exposed_passwords": b"x"}).error == (
        "the input 'password' is empty"
    )
    assert run_builtin("builtin-password-check", {}, {"password": b"x"}).error.startswith(
        "Invalid input file identifier. (no input named 'exposed_passwords'"
    )


def _intersect(run_builtin: RunBuiltin, order: str, one: bytes, two: bytes):  # type: ignore[no-untyped-def]
    return run_builtin(
        "builtin-ordered-set-intersect",
        {"order": order},
        {"input_data1": one, "input_data2": two},
        ("output_result1", "output_result2"),
    )


@needs_fixtures
def test_ordered_set_intersect_vector(run_builtin: RunBuiltin) -> None:
    run = _intersect(run_builtin, "ascending", (PSI / "psi0.txt").read_bytes(), (PSI / "psi1.txt").read_bytes())
    assert run.text == "3 common items"
    assert run.outputs == {"output_result1": b"0101010", "output_result2": b"01101"}


def test_ordered_set_intersect_descending_and_duplicates(run_builtin: RunBuiltin) -> None:
    run = _intersect(run_builtin, "desending", b"ff\nee\nee\n01", b"ee\n02\n01")
    assert run.text == "2 common items"
    assert run.outputs == {"output_result1": b"0101", "output_result2": b"101"}


@pytest.mark.parametrize(
    ("order", "one", "two", "message"),
    [
        ("descending", b"01", b"01", "Invalid order (use `ascending` or `desending`)"),
        ("ascending", b"02\n01", b"01", "Invalid ordering"),
        ("desending", b"01\n02", b"01", "Invalid ordering"),
        ("ascending", b"0g", b"01", "Invalid hex character on line 1 of input_data1"),
        ("ascending", b"01\n012", b"01", "Odd number of hex digits on line 2 of input_data1"),
    ],
)
def test_ordered_set_intersect_errors(
    run_builtin: RunBuiltin, order: str, one: bytes, two: bytes, message: str
) -> None:
    assert _intersect(run_builtin, order, one, two).error == message


def _join(run_builtin: RunBuiltin, num_user: object, data: list[bytes]):  # type: ignore[no-untyped-def]
    return run_builtin(
        "builtin-private-join-and-compute",
        {"num_user": num_user},
        {f"input_data{i}": d for i, d in enumerate(data)},
        tuple(f"output_data{i}" for i in range(len(data))),
    )


@needs_fixtures
def test_private_join_and_compute_vector(run_builtin: RunBuiltin) -> None:
    banks = [(BANKS / f"bank_{x}.txt").read_bytes() for x in "abc"]
    run = _join(run_builtin, 3, banks)
    assert run.text == "3 users join the task in total."
    assert len(run.outputs) == 3
    for output in run.outputs.values():
        assert len(output) == 21
        assert set(output.decode().splitlines()) == {"c, 470000", "e, 5033000"}


def test_private_join_and_compute_parsing_rules(run_builtin: RunBuiltin) -> None:
    one = b"a : 1\nb:2\nb : 5\nxx\nc : -3\nd : 1 : 2\ne : 4294967295\n \n"
    two = b" b : 10 \na:+2\nc : 3\ne : 1\n"
    run = _join(run_builtin, 2, [one, two])
    assert run.text == "2 users join the task in total."
    # b's later line replaces the earlier; sums wrap as u32, as Teaclave's did.
    assert run.outputs["output_data0"] == b"a, 3\nb, 15\ne, 0\n"


def test_private_join_and_compute_errors(run_builtin: RunBuiltin) -> None:
    assert _join(run_builtin, 1, [b"a : 1"]).error == "The demo requires at least two parties!"
    assert _join(run_builtin, "two", [b"a : 1"]).error == (
        "Cannot deserialize arguments: `num_user` must be an unsigned integer"
    )
    assert _join(run_builtin, 2, [b"a : 1", b"\xff"]).error == "the input 'input_data1' is not UTF-8 text"


def test_teabox_run_prints_a_result_and_exits_18_on_a_function_error(tmp_path: Path) -> None:
    module = str(find("builtin-echo").module)  # type: ignore[union-attr]
    env = {"TEABOX_CACHE_DIR": str(tmp_path / "cache")}
    ok = CliRunner().invoke(main, ["run", module, "--arg", "message=Hello Teaclave!"], env=env)
    assert (ok.exit_code, ok.output) == (0, "Hello Teaclave!\n")
    failed = CliRunner().invoke(main, ["run", module], env=env)
    assert failed.exit_code == 18
    assert "function_error" in failed.output and "`message` is missing" in failed.output
