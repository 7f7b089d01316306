"""The text channels: a result that replaces the return value, and a payload's own error."""

from __future__ import annotations

from teabox.executor import Executor, FailureKind, Limits, MemoryOutputs
from teabox.executor.channels import MAX_CHANNEL_BYTES

from .conftest import entry

# Data: the two channel names, an output name, and texts to write.
DATA = (
    '(data (i32.const 16) "teabox:result\\00")'
    '(data (i32.const 32) "teabox:error\\00")'
    '(data (i32.const 48) "out\\00")'
    '(data (i32.const 64) "3 common items")'
    '(data (i32.const 80) "Invalid order")'
    '(data (i32.const 96) "\\ff\\fe")'
)
RESULT, ERROR, OUT, TEXT, MESSAGE, NOT_UTF8 = 16, 32, 48, 64, 80, 96


def _send(channel: int, text: int, size: int) -> str:
    return f"""(local.set $fd (call $create (i32.const {channel})))
               (drop (call $write (local.get $fd) (i32.const {text}) (i32.const {size})))
               (drop (call $close (local.get $fd)))"""


def test_the_result_channel_replaces_the_return_value(executor: Executor) -> None:
    payload = entry(_send(RESULT, TEXT, 14) + "(i32.const 7)", data=DATA, locals_="(local $fd i32)")
    result = executor.run(payload)
    assert result.ok, result.failure
    assert result.return_value == "3 common items"


def test_an_empty_result_is_a_result(executor: Executor) -> None:
    payload = entry(_send(RESULT, TEXT, 0) + "(i32.const 7)", data=DATA, locals_="(local $fd i32)")
    assert executor.run(payload).return_value == ""


def test_the_error_channel_fails_the_run_and_discards_outputs(executor: Executor) -> None:
    body = _send(OUT, TEXT, 14) + _send(RESULT, TEXT, 14) + _send(ERROR, MESSAGE, 13) + "(i32.const -1)"
    outputs = MemoryOutputs(["out"])
    result = executor.run(entry(body, data=DATA, locals_="(local $fd i32)"), outputs=outputs)
    assert result.failure is not None
    assert result.failure.kind is FailureKind.FUNCTION_ERROR
    assert result.failure.message == "Invalid order"
    assert result.return_value is None
    assert outputs.results == {}


def test_the_payload_error_explains_outputs_it_never_created(executor: Executor) -> None:
    result = executor.run(
        entry(_send(ERROR, MESSAGE, 13) + "(i32.const -1)", data=DATA, locals_="(local $fd i32)"),
        outputs=MemoryOutputs(["out"]),
    )
    assert result.failure is not None
    assert (result.failure.kind, result.failure.message) == (FailureKind.FUNCTION_ERROR, "Invalid order")


def test_a_result_that_is_not_utf8_fails_the_run(executor: Executor) -> None:
    result = executor.run(entry(_send(RESULT, NOT_UTF8, 2) + "(i32.const 0)", data=DATA, locals_="(local $fd i32)"))
    assert result.failure is not None
    assert result.failure.kind is FailureKind.FUNCTION_ERROR
    assert "not UTF-8" in result.failure.message and "teabox:result" in result.failure.message


def test_a_channel_holds_at_most_its_limit(executor: Executor) -> None:
    # Write MAX_CHANNEL_BYTES + 1 bytes of zeroed memory in one call: refused with -1, and the run fails.
    body = f"""(local.set $fd (call $create (i32.const {RESULT})))
               (drop (memory.grow (i32.const 17)))
               (local.set $n (call $write (local.get $fd) (i32.const 0) (i32.const {MAX_CHANNEL_BYTES + 1})))
               (local.get $n)"""
    result = executor.run(
        entry(body, data=DATA, locals_="(local $fd i32) (local $n i32)"), limits=Limits(memory=64 * 1024 * 1024)
    )
    assert result.failure is not None
    assert result.failure.kind is FailureKind.OUTPUT_LIMIT
    assert any("text channel holds at most" in note for note in result.diagnostics)


def test_a_result_with_a_nul_character_fails_the_run(executor: Executor) -> None:
    # "teabox:result" and its terminating NUL, written to the result channel.
    result = executor.run(entry(_send(RESULT, RESULT, 14) + "(i32.const 0)", data=DATA, locals_="(local $fd i32)"))
    assert result.failure is not None
    assert result.failure.kind is FailureKind.FUNCTION_ERROR
    assert (
        result.failure.message == "the payload wrote a NUL character to 'teabox:result' (at offset 13): it must be text"
    )
