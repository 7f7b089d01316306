"""Every example builds with `teabox build`, passes the ABI check, runs, and computes the right thing."""

from __future__ import annotations

import collections
import re
import zlib
from pathlib import Path

import pytest
from click.testing import CliRunner
from support.flow_scripts import PSI_COMMON
from support.toolchain import (  # noqa: F401  (fixture)
    EXAMPLES,
    fixtures_dir,
    isolated_cache,
    run_payload,
    rust_available,
)

from teabox.abi import check
from teabox.cli.main import main

pytestmark = pytest.mark.usefixtures("isolated_cache")


def teabox_build(source: Path, output: Path) -> bytes:
    result = CliRunner().invoke(main, ["build", str(source), "-o", str(output)], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert "valid teabox payload" in result.output
    wasm = output.read_bytes()
    check(wasm)
    return wasm


BUILD_EXAMPLES = ["add-c", "checksum-zig", "millionaire-c", "psi-rust", "teaclave-style-c", "wordcount-cpp"]


@pytest.mark.parametrize("directory", BUILD_EXAMPLES)
def test_every_example_has_a_readme_that_shows_how_to_build_and_run_it(directory: str) -> None:
    readme = (EXAMPLES / directory / "README.md").read_text()
    assert "teabox build" in readme and "teabox run" in readme


def test_add_c(tmp_path: Path) -> None:
    wasm = teabox_build(EXAMPLES / "add-c" / "add.c", tmp_path / "add.wasm")
    run, _ = run_payload(wasm, {"a": "35", "b": "7"})
    assert run.return_value == "42"
    run, _ = run_payload(wasm, {"a": -2_000_000_000, "b": "-100"})
    assert run.return_value == "-2000000100"
    for bad in ({"a": "1"}, {"a": "1", "b": "two"}, {"a": "2147483647", "b": "1"}):
        run, _ = run_payload(wasm, bad)
        assert run.failure is not None and run.failure.kind.value == "trap"


def test_millionaire_c_with_teaclaves_vectors(tmp_path: Path) -> None:
    vectors = fixtures_dir("wamr_c_millionaire_problem")
    wasm = teabox_build(EXAMPLES / "millionaire-c" / "millionaire.c", tmp_path / "millionaire.wasm")
    inputs = {"pf_in_a": (vectors / "input_a.txt").read_bytes(), "pf_in_b": (vectors / "input_b.txt").read_bytes()}
    run, outputs = run_payload(wasm, {}, inputs, ("pf_out",))
    assert run.ok, run.failure
    assert outputs["pf_out"] == (vectors / "expected_output.txt").read_bytes()
    assert run.return_value == "7"


def test_millionaire_c_names_come_from_arguments(tmp_path: Path) -> None:
    wasm = teabox_build(EXAMPLES / "millionaire-c" / "millionaire.c", tmp_path / "millionaire.wasm")
    args = {"input_a": "alice", "input_b": "bob", "output": "verdict"}
    for a, b, verdict in ((b"10\n", b" 20 ", b"bob"), (b"30", b"20", b"alice"), (b"5", b"5", b"equal")):
        run, outputs = run_payload(wasm, args, {"alice": a, "bob": b}, ("verdict",))
        assert outputs == {"verdict": verdict} and run.return_value == str(len(verdict))
    run, _ = run_payload(wasm, args, {"alice": b"rich", "bob": b"1"})
    assert run.return_value == "-2"
    run, _ = run_payload(wasm, args, {"alice": b"1"})
    assert run.return_value == "-1"


@pytest.mark.usefixtures("rust_available")
def test_psi_rust_with_teaclaves_vectors(tmp_path: Path) -> None:
    vectors = fixtures_dir("wamr_rust_psi")
    wasm = teabox_build(EXAMPLES / "psi-rust", tmp_path / "psi.wasm")
    inputs = {"input1": (vectors / "psi0.txt").read_bytes(), "input2": (vectors / "psi1.txt").read_bytes()}
    run, outputs = run_payload(wasm, {}, inputs, ("output1", "output2"))
    assert run.ok, run.failure
    expected = sorted(set(inputs["input1"].split()) & set(inputs["input2"].split()))
    assert [line.decode() for line in expected] == PSI_COMMON
    assert outputs["output1"] == outputs["output2"] == b"".join(line + b"\n" for line in expected)
    assert run.return_value == "6"


def test_wordcount_cpp(tmp_path: Path) -> None:
    wasm = teabox_build(EXAMPLES / "wordcount-cpp" / "wordcount.cc", tmp_path / "wordcount.wasm")
    text = (Path(__file__).resolve().parents[1] / "README.md").read_bytes() * 3 + b"\nThe the THE don't\r\n"
    run, outputs = run_payload(wasm, {}, {"input": text}, ("output",))
    assert run.ok, run.failure
    counts = collections.Counter(w.lower() for w in re.findall(rb"[A-Za-z0-9']+", text))
    expected = sorted(counts.items(), key=lambda item: (-item[1], item[0]))
    assert outputs["output"] == b"".join(b"%d %s\n" % (n, w) for w, n in expected)
    assert run.return_value == str(len(counts))


def test_checksum_zig(tmp_path: Path) -> None:
    wasm = teabox_build(EXAMPLES / "checksum-zig" / "checksum.zig", tmp_path / "checksum.wasm")
    data = bytes(range(256)) * 1000 + b"tail"  # several reads of the payload's 64 KiB chunk
    args = {"input": "blob", "output": "sum"}
    run, outputs = run_payload(wasm, args, {"blob": data}, ("sum",))
    assert run.ok, run.failure
    crc = zlib.crc32(data)
    assert outputs["sum"] == f"crc32 {crc:08x}\nbytes {len(data)}\n".encode()
    assert int(run.return_value) == crc - (1 << 32 if crc >= 1 << 31 else 0)


def test_teaclave_style_source_builds_unchanged_and_runs(tmp_path: Path) -> None:
    source = EXAMPLES / "teaclave-style-c" / "sum_lines.c"
    assert '#include "teaclave_context.h"' in source.read_text()
    wasm = teabox_build(source, tmp_path / "sum_lines.wasm")
    args = {"input_file_id": "numbers", "output_file_id": "report"}
    run, outputs = run_payload(wasm, args, {"numbers": b"5\n10\n-3\n100\n"}, ("report",))
    assert run.ok, run.failure
    assert outputs == {"report": b"count=4 sum=112"} and run.return_value == "112"
