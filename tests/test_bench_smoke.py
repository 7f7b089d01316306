"""The benchmark suite computes the right thing: kernels build, and every engine agrees with native code.

Correctness only: no timing is asserted here (timings belong in bench/results/).
"""

from __future__ import annotations

import importlib
import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # bench/ is a directory of the repository, not part of the installed package
    sys.path.insert(0, str(ROOT))

from bench import compute, engines, report, stats  # noqa: E402
from bench.section import Mode, Section  # noqa: E402
from bench.workloads import KERNELS, Kernel  # noqa: E402


@pytest.fixture(scope="module")
def engine_set(tmp_path_factory: pytest.TempPathFactory) -> list[engines.ComputeEngine]:
    return engines.all_engines(tmp_path_factory.mktemp("cache"))


@pytest.mark.parametrize("kernel", KERNELS, ids=lambda k: k.name)
def test_every_engine_returns_the_native_checksum(kernel: Kernel, engine_set: list[engines.ComputeEngine]) -> None:
    native = engines.Native().run(kernel, kernel.tiny)
    assert native.checksum != 0  # a kernel that computes nothing would agree with everything
    checked = []
    for engine in engine_set:
        if engine.name == "native" or engine.unavailable():
            continue
        result = engine.run(kernel, kernel.tiny)
        assert result.checksum == native.checksum, f"{engine.label} computed {kernel.name}({kernel.tiny}) differently"
        checked.append(engine.name)
    assert {"wasmtime", "wasmtime_epoch", "teabox", "teabox_inprocess", "teabox_fuel"} <= set(checked)


def test_checksums_differ_between_sizes() -> None:
    """Sizes matter: a kernel ignoring n would pass the agreement test while measuring nothing."""
    native = engines.Native()
    for kernel in KERNELS:
        bigger = kernel.tiny + max(1, kernel.tiny // 2)
        assert native.run(kernel, kernel.tiny).checksum != native.run(kernel, bigger).checksum, kernel.name


def test_payload_refuses_a_missing_size(engine_set: list[engines.ComputeEngine]) -> None:
    teabox = next(e for e in engine_set if e.name == "teabox")
    assert isinstance(teabox, engines.Teabox)
    payload = engines.build.payload(KERNELS[0].source)
    assert teabox.executor.run(payload, {}).return_value == "-1"
    assert teabox.executor.run(payload, {"n": "12x"}).return_value == "-1"


def test_a_wrong_checksum_is_reported() -> None:
    kernel = KERNELS[0]
    result = compute.KernelResult(kernel)
    result.native[5] = compute.Cell(5, [engines.Run(111, 1.0)])
    result.cells["native"] = result.native[5]
    result.cells["teabox"] = compute.Cell(5, [engines.Run(111, 1.0), engines.Run(222, 1.0)])
    problems = compute._check_checksums(result)
    assert len(problems) == 1 and "teabox" in problems[0] and "222" in problems[0]


def test_summary_and_geometric_mean() -> None:
    summary = stats.summarize([3.0, 1.0, 2.0, 10.0])
    assert summary.median == 2.5 and summary.minimum == 1.0 and summary.maximum == 10.0
    assert stats.geometric_mean([2.0, 0.5]) == pytest.approx(1.0)
    assert stats.percentile([5.0, 1.0, 3.0, 2.0, 4.0], 0.99) == 5.0
    with pytest.raises(ValueError):
        stats.summarize([])


def test_report_writes_markdown_chart_and_data(tmp_path: Path) -> None:
    pytest.importorskip("matplotlib")
    from bench.section import Ratio, Target

    section = Section(
        "Compute",
        "a table\n",
        {"x": 1},
        [Target("warm run", 100.0, "<=", "µs", 150.0)],
        [Ratio("teabox / native", "fib", 1.2), Ratio("teabox / native", "sort", 0.9)],
    )
    other = Section(
        "Invocation",
        "text\n",
        {},
        [Target("runs per second", 200.0, ">=", "/s", None)],
        [Ratio("teabox / wasmtime", "warm run", 3.0)],
    )
    env = {
        "date": "2026-01-01 00:00 UTC",
        "cpu": "test cpu",
        "cores": 2,
        "memory_gib": 1.0,
        "os": "Linux",
        "python": "3.11",
        "packages": {"teabox": "0.1.0"},
    }
    path = report.write(tmp_path, [section, other], env, Mode(quick=True), 1.0, "python bench/run.py --quick")
    text = path.read_text()
    assert "| warm run | <= 100 µs | 150 µs | **not met** |" in text
    assert "| runs per second | >= 200 /s | not measured | not measured |" in text
    assert (tmp_path / report.CHART).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    data = json.loads((tmp_path / report.DATA).read_text())
    assert data["sections"][0]["targets"][0]["met"] is False


def test_file_io_payload_reads_and_writes_what_it_should(tmp_path: Path) -> None:
    from bench import hostcalls
    from teabox.executor import Executor

    runs = hostcalls.FileRuns(Executor(tmp_path / "cache"), tmp_path)
    assert runs.read(100_000, 4096).wall > 0  # raises unless the payload read exactly the file's size
    assert runs.write(64 * 1024, 4096).wall > 0  # raises unless it wrote every byte
    bare = hostcalls.BareEngineCalls(runs.payload)
    for op in ("read", "write"):
        assert bare.one_byte_calls(op)(1000).cpu > 0  # raises unless the payload made 1000 calls


def test_invocation_paths_return_the_trivial_result(tmp_path: Path) -> None:
    from bench import invocation
    from teabox.executor import Executor

    payload = invocation.trivial_payload()
    assert invocation.engine_alone_call(payload)() == "2"
    outer, inner = invocation.warm_runs(Executor(tmp_path / "cache"), payload, 5)
    assert len(outer) == len(inner) == 5
    compiled, from_disk = invocation.cold_runs(payload, 1, tmp_path / "cold")  # asserts where each module came from
    assert len(compiled) == len(from_disk) == 1
    for spare in (True, False):  # each asserts that the run before it timed out
        assert len(invocation.after_timeout(payload, 1, tmp_path / "cache", spare=spare)) == 1


@pytest.fixture(scope="module")
def platform(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """One ``teabox serve`` for the end-to-end sections' checks (starting one takes seconds)."""
    from bench import end_to_end

    with end_to_end.running_platform(tmp_path_factory.mktemp("platform")) as running:
        yield running


def test_every_section_imports(tmp_path: Path) -> None:
    """A section that cannot even be imported would only show up as a skipped section in a full run."""
    from bench.run import SECTIONS

    for name, module in SECTIONS.items():
        section = importlib.import_module(module)
        assert section.TITLE and callable(section.measure), name


def test_end_to_end_tasks_finish_with_the_right_output(platform: Any) -> None:
    from bench import end_to_end

    assert end_to_end.check_two_party_output(platform) == "pf_in_a"
    timing = end_to_end.invoke_to_result(platform, end_to_end.prepare_trivial(platform))
    assert timing.total >= timing.invoke > 0


def test_compute_batches_return_what_the_executor_computes(platform: Any, tmp_path: Path) -> None:
    from bench import worker_scaling
    from teabox.client.requests import FunctionArgument
    from teabox.executor import Executor

    payload = engines.build.payload(worker_scaling.KERNEL.source)
    executor = Executor(tmp_path / "cache", isolation="subprocess")
    expected = executor.run(payload, {"n": "20"}).return_value
    executor.close()
    function_id = platform.vendor.register_function(
        name="fib", description="", executor_type="wamr", payload=payload, arguments=[FunctionArgument("n", "20")]
    )
    per_second, _, cpu = worker_scaling._batch(platform, function_id, 20, 2, str(expected))
    assert per_second > 0 and cpu >= 0
    with pytest.raises(RuntimeError, match=r"fib\(20\) returned"):  # a wrong result is reported, not timed
        worker_scaling._batch(platform, function_id, 20, 1, "not the checksum")


def test_the_big_input_fits_the_input_limit() -> None:
    from bench.big_input import MiB, plaintext_size
    from teabox.formats.pfs_layout import host_size

    size = plaintext_size(1024 * MiB)
    assert size % MiB == 0 and host_size(size) <= 1024 * MiB < host_size(size + MiB)


def test_a_big_input_task_reads_every_byte_and_its_memory_is_measured(platform: Any, tmp_path: Path) -> None:
    from bench import big_input, hostcalls
    from teabox.client.requests import FunctionArgument, FunctionInput

    function_id = platform.vendor.register_function(
        name="read-input",
        description="",
        executor_type="wamr",
        payload=hostcalls.file_io_payload(),
        arguments=[FunctionArgument("mode", "read"), FunctionArgument("size", str(big_input.CHUNK))],
        inputs=[FunctionInput("input", "")],
    )
    figures = big_input._task(platform, function_id, tmp_path, 3 * big_input.MiB + 5, lambda _: None)
    assert figures["bytes"] == 3 * big_input.MiB + 5  # _task raises unless the payload read exactly this many
    assert figures["processes"]["worker"] and figures["processes"]["sandbox"]
    assert all(p["peak_bytes"] > 0 for role in figures["processes"].values() for p in role)
    assert not list(tmp_path.glob("input*")), "the plaintext and ciphertext files are deleted"
