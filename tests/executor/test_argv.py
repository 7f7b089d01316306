"""argv: sorted keys, values as text, argc, the trailing NULL, NUL refused."""

from __future__ import annotations

import pytest
import wasmtime

from teabox.errors import InvalidArguments
from teabox.executor import Executor, MemoryOutputs

from .conftest import ARGV_DUMP


def run_dump(executor: Executor, args: dict) -> tuple[str, list[str]]:
    outputs = MemoryOutputs(["out"])
    result = executor.run(wasmtime.wat2wasm("(module " + ARGV_DUMP + ")"), args, outputs=outputs)
    assert result.ok, result.failure
    return result.return_value, outputs.results["out"].decode().split("\n")[:-1]


def test_arguments_arrive_sorted_by_key_with_values_as_text(executor: Executor) -> None:
    args = {"zeta": "last", "alpha": 3, "Beta": True, "mid": [1, 2], "obj": {"k": None}, "ünï": "codé", "f": 1.5}
    null, lines = run_dump(executor, args)
    assert null == "0"  # argv[argc] is NULL
    expected_keys = sorted(args, key=lambda k: k.encode())
    assert lines[0::2] == expected_keys
    assert dict(zip(lines[0::2], lines[1::2], strict=False)) == {
        "zeta": "last",
        "alpha": "3",
        "Beta": "true",
        "mid": "[1,2]",
        "obj": '{"k":null}',
        "ünï": "codé",
        "f": "1.5",
    }


def test_argc_is_twice_the_number_of_keys(executor: Executor, wat) -> None:
    payload = wat("local.get $argc")
    assert executor.run(payload, {}).return_value == "0"
    assert executor.run(payload, {"a": "1", "b": "2", "c": ""}).return_value == "6"


def test_fixed_positions_as_teaclave_examples_read_them(executor: Executor) -> None:
    _, lines = run_dump(executor, {"input_fid": "in_a", "output_fid": "out_b"})
    assert lines == ["input_fid", "in_a", "output_fid", "out_b"]


@pytest.mark.parametrize("args", [{"k": "a\0b"}, {"a\0": "v"}])
def test_nul_byte_in_an_argument_is_refused_before_the_run(executor: Executor, wat, args) -> None:
    with pytest.raises(InvalidArguments, match="NUL"):
        executor.run(wat("i32.const 0"), args)


def test_a_large_argument_gets_the_memory_it_needs(executor: Executor) -> None:
    big = "x" * 200_000
    _, lines = run_dump(executor, {"big": big})
    assert lines == ["big", big]
