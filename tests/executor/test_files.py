"""The five file functions: handle numbers, -1 semantics, EOF, outputs."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from teabox.executor import (
    Executor,
    FailureKind,
    FileInputs,
    FileOutputs,
    Limits,
    MemoryInputs,
    MemoryOutputs,
)

from .conftest import entry

NAMES = '(data (i32.const 16) "in_a\\00in_b\\00out\\00nope\\00")'
IN_A, IN_B, OUT, NOPE = 16, 21, 26, 30


def test_handle_numbers_follow_the_abi(executor: Executor) -> None:
    # open in_a, open in_b, create out -> 1, 2, 0x40000003; return their sum of checks
    payload = entry(
        f"""(local.set $a (call $open (i32.const {IN_A})))
            (local.set $b (call $open (i32.const {IN_B})))
            (local.set $o (call $create (i32.const {OUT})))
            (i32.store (i32.const 100) (local.get $a))
            (i32.store (i32.const 104) (local.get $b))
            (i32.store (i32.const 108) (local.get $o))
            (drop (call $write (local.get $o) (i32.const 100) (i32.const 12)))
            (i32.const 0)""",
        data=NAMES,
        locals_="(local $a i32) (local $b i32) (local $o i32)",
    )
    outputs = MemoryOutputs(["out"])
    result = executor.run(payload, inputs=MemoryInputs({"in_a": b"", "in_b": b""}), outputs=outputs)
    assert result.ok, result.failure
    import struct

    assert struct.unpack("<3i", outputs.results["out"]) == (1, 2, 0x40000003)


def test_unknown_names_wrong_kinds_and_double_close_return_minus_one(executor: Executor) -> None:
    payload = entry(
        f"""(local.set $a (call $open (i32.const {IN_A})))
            (local.set $o (call $create (i32.const {OUT})))
            (i32.store (i32.const 200) (call $open (i32.const {NOPE})))
            (i32.store (i32.const 204) (call $create (i32.const {NOPE})))
            (i32.store (i32.const 208) (call $read (local.get $o) (i32.const 300) (i32.const 4)))
            (i32.store (i32.const 212) (call $write (local.get $a) (i32.const 300) (i32.const 4)))
            (i32.store (i32.const 216) (call $read (i32.const 77) (i32.const 300) (i32.const 4)))
            (i32.store (i32.const 220) (call $close (local.get $a)))
            (i32.store (i32.const 224) (call $close (local.get $a)))
            (i32.store (i32.const 228) (call $close (i32.const 12345)))
            (drop (call $write (local.get $o) (i32.const 200) (i32.const 32)))
            (i32.const 0)""",
        data=NAMES,
        locals_="(local $a i32) (local $o i32)",
    )
    outputs = MemoryOutputs(["out"])
    result = executor.run(payload, inputs=MemoryInputs({"in_a": b"abcd"}), outputs=outputs)
    assert result.ok, result.failure
    import struct

    assert struct.unpack("<8i", outputs.results["out"]) == (-1, -1, -1, -1, -1, 0, -1, -1)
    notes = "\n".join(result.diagnostics)
    assert "no input named 'nope'" in notes
    assert "no output named 'nope'" in notes
    assert "is an output (write) handle of 'out'" in notes
    assert "is an input (read) handle of 'in_a'" in notes
    assert "handle 77 is not open" in notes
    assert "already closed" in notes


def copy_payload(reads: int = 1) -> bytes:
    """Reads in_a in 3-byte chunks until EOF, writing each chunk to out; returns the number of reads."""
    return entry(
        f"""(local.set $a (call $open (i32.const {IN_A})))
            (local.set $o (call $create (i32.const {OUT})))
            (block (loop
              (local.set $n (call $read (local.get $a) (i32.const 1000) (i32.const 3)))
              (local.set $calls (i32.add (local.get $calls) (i32.const 1)))
              (br_if 1 (i32.le_s (local.get $n) (i32.const 0)))
              (drop (call $write (local.get $o) (i32.const 1000) (local.get $n)))
              (br 0)))
            (local.get $calls)""",
        data=NAMES,
        locals_="(local $a i32) (local $o i32) (local $n i32) (local $calls i32)",
    )


def test_read_until_end_of_file_returns_zero(executor: Executor) -> None:
    outputs = MemoryOutputs(["out"])
    result = executor.run(copy_payload(), inputs=MemoryInputs({"in_a": b"abcdefg"}), outputs=outputs)
    assert result.ok
    assert outputs.results["out"] == b"abcdefg"
    assert result.return_value == "4"  # 3 + 3 + 1 bytes, then 0
    assert result.files["in_a"].read == 7 and result.files["out"].written == 7


def test_two_readers_of_one_input_are_independent(executor: Executor) -> None:
    payload = entry(
        f"""(local.set $a (call $open (i32.const {IN_A})))
            (local.set $b (call $open (i32.const {IN_A})))
            (local.set $o (call $create (i32.const {OUT})))
            (drop (call $read (local.get $a) (i32.const 1000) (i32.const 2)))
            (drop (call $read (local.get $b) (i32.const 1002) (i32.const 3)))
            (drop (call $write (local.get $o) (i32.const 1000) (i32.const 5)))
            (local.get $b)""",
        data=NAMES,
        locals_="(local $a i32) (local $b i32) (local $o i32)",
    )
    outputs = MemoryOutputs(["out"])
    result = executor.run(payload, inputs=MemoryInputs({"in_a": b"xyz"}), outputs=outputs)
    assert result.ok and result.return_value == "2"
    assert outputs.results["out"] == b"xyxyz"


def test_the_last_creation_of_an_output_wins(executor: Executor, tmp_path: Path) -> None:
    payload = entry(
        f"""(local.set $o (call $create (i32.const {OUT})))
            (drop (call $write (local.get $o) (i32.const {IN_A}) (i32.const 4)))
            (local.set $o (call $create (i32.const {OUT})))
            (drop (call $write (local.get $o) (i32.const {IN_B}) (i32.const 4)))
            (local.get $o)""",
        data=NAMES,
        locals_="(local $o i32)",
    )
    target = tmp_path / "out.bin"
    result = executor.run(payload, outputs=FileOutputs({"out": target}))
    assert result.ok and result.return_value == str(0x40000002)
    assert target.read_bytes() == b"in_b"


def test_an_output_created_and_never_written_is_empty(executor: Executor, tmp_path: Path) -> None:
    payload = entry(f"(drop (call $create (i32.const {OUT}))) (i32.const 0)", data=NAMES)
    target = tmp_path / "empty"
    result = executor.run(payload, outputs=FileOutputs({"out": target}))
    assert result.ok
    assert target.exists() and target.read_bytes() == b""


def test_a_bound_output_never_created_fails_the_run_naming_it(executor: Executor, tmp_path: Path) -> None:
    payload = entry(f"(drop (call $create (i32.const {OUT}))) (i32.const 0)", data=NAMES)
    target = tmp_path / "outputs"
    target.mkdir()
    outputs = FileOutputs({"out": target / "a", "report": target / "b"})
    result = executor.run(payload, outputs=outputs)
    assert result.failure is not None and result.failure.kind == FailureKind.MISSING_OUTPUT
    assert "'report'" in result.failure.message
    assert not list(target.iterdir())  # nothing published, no partial file left


def test_file_inputs_read_plain_files(executor: Executor, tmp_path: Path) -> None:
    source = tmp_path / "a.txt"
    source.write_bytes(b"0123456789" * 1000)
    target = tmp_path / "copy.txt"
    result = executor.run(copy_payload(), inputs=FileInputs({"in_a": source}), outputs=FileOutputs({"out": target}))
    assert result.ok
    assert target.read_bytes() == source.read_bytes()


@pytest.mark.parametrize(
    ("call", "needle"),
    [
        ("(call $open (i32.const 200000))", "teaclave_open_input received name pointer 0x30d40"),
        ("(call $read (local.get $a) (i32.const 131000) (i32.const 100))", "teaclave_read_file received buffer"),
        (
            "(call $write (local.get $o) (i32.const 10) (i32.const -5))",
            "teaclave_write_file received a negative size -5",
        ),
        (
            "(call $write (local.get $o) (i32.const -1) (i32.const 2))",
            "teaclave_write_file received buffer [0xffffffff",
        ),
    ],
)
def test_out_of_bounds_pointers_trap_with_a_clear_message(executor: Executor, call: str, needle: str) -> None:
    payload = entry(
        f"""(local.set $a (call $open (i32.const {IN_A})))
            (local.set $o (call $create (i32.const {OUT})))
            (drop {call}) (i32.const 0)""",
        data=NAMES,
        locals_="(local $a i32) (local $o i32)",
    )
    result = executor.run(payload, inputs=MemoryInputs({"in_a": b"x"}), outputs=MemoryOutputs(["out"]))
    assert result.failure is not None and result.failure.kind == FailureKind.TRAP
    assert needle in result.failure.message


def test_a_name_without_nul_before_the_end_of_memory_traps(executor: Executor) -> None:
    payload = entry(
        "(local.set $p (i32.sub (i32.mul (memory.size) (i32.const 65536)) (i32.const 1)))"
        "(i32.store8 (local.get $p) (i32.const 65)) (call $open (local.get $p))",
        locals_="(local $p i32)",
    )
    result = executor.run(payload)
    assert result.failure is not None and result.failure.kind == FailureKind.TRAP
    assert "no NUL before the end of linear memory" in result.failure.message


def test_open_handles_are_limited(executor: Executor) -> None:
    payload = entry(
        f"""(block (loop
              (local.set $fd (call $open (i32.const {IN_A})))
              (br_if 1 (i32.lt_s (local.get $fd) (i32.const 0)))
              (drop (call $close (local.get $fd)))
              (local.set $n (i32.add (local.get $n) (i32.const 1)))
              (br 0)))
            (local.get $n)""",
        data=NAMES,
        locals_="(local $fd i32) (local $n i32)",
    )
    result = executor.run(payload, inputs=MemoryInputs({"in_a": b""}))
    assert result.ok and result.return_value == "1023"
    assert any("1023 files, the limit" in d for d in result.diagnostics)
    small = executor.run(payload, inputs=MemoryInputs({"in_a": b""}), limits=Limits(max_handles=5))
    assert small.return_value == "5"


class _BrokenDisk(io.RawIOBase):
    """An input whose reads fail, as a failing disk or network mount would."""

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:  # type: ignore[no-untyped-def]
        raise OSError(5, "Input/output error")


class _BrokenInputs:
    def open(self, name: str) -> io.RawIOBase:
        if name != "in_a":
            raise KeyError(name)
        return _BrokenDisk()


def test_an_input_that_fails_to_read_is_a_host_error_not_a_result(tmp_path: Path) -> None:
    payload = entry(
        f"(call $read (call $open (i32.const {IN_A})) (i32.const 1000) (i32.const 10))",
        data=NAMES,
    )
    result = Executor(cache_dir=tmp_path).run(payload, inputs=_BrokenInputs())
    assert result.failure is not None and result.failure.kind == FailureKind.HOST_ERROR
    assert "reading input 'in_a' failed" in result.failure.message and "Input/output error" in result.failure.message
