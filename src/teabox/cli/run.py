"""``teabox inspect`` and ``teabox run``: check and run one payload on plain files."""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path
from typing import Any

import click

from teabox.abi import inspect as inspect_payload
from teabox.errors import InvalidArguments
from teabox.executor import (
    Executor,
    FailureKind,
    FileInputs,
    FileOutputs,
    Limits,
    RunResult,
    parse_duration,
    parse_size,
)

# Exit status per failure class, so scripts can tell a timeout from a trap.
EXIT_CODES: dict[FailureKind, int] = {
    FailureKind.INVALID_PAYLOAD: 10,
    FailureKind.TRAP: 11,
    FailureKind.TIMEOUT: 12,
    FailureKind.OUT_OF_FUEL: 13,
    FailureKind.MEMORY_LIMIT: 14,
    FailureKind.OUTPUT_LIMIT: 15,
    FailureKind.MISSING_OUTPUT: 16,
    FailureKind.HOST_ERROR: 17,
    FailureKind.FUNCTION_ERROR: 18,
}
EXIT_BAD_ARGUMENTS = 2
WASM_MAGIC = b"\0asm"
# The host's note when a payload opens a data name the run did not bind (teabox.executor.host).
_UNBOUND = re.compile(r"the task has no (input|output) named '([^']*)'; returned -1")


def _pairs(option: str, values: tuple[str, ...]) -> dict[str, str]:
    pairs = {}
    for value in values:
        key, sep, rest = value.partition("=")
        if not sep or not key:
            raise click.BadParameter(f"expected NAME=VALUE, got {value!r}", param_hint=option)
        pairs[key] = rest
    return pairs


def _converted(option: str, parse, text: str | None):  # type: ignore[no-untyped-def]
    if text is None:
        return None
    try:
        return parse(text)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint=option) from None


@click.command("inspect")
@click.argument("payload", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
def inspect_command(payload: Path, as_json: bool) -> None:
    """Show a payload's imports, exports and memory, and whether it satisfies the ABI."""
    report = inspect_payload(payload.read_bytes())
    if as_json:
        click.echo(json.dumps(report.to_dict(), indent=2))
    else:
        click.echo(f"{payload}: {report.size} bytes, sha256 {report.sha256}")
        for imp in report.imports:
            click.echo(f"  import {imp.module}.{imp.name}: {imp.kind} {imp.type or ''}".rstrip())
        for exp in report.exports:
            click.echo(f"  export {exp.name}: {exp.kind} {exp.type or ''}".rstrip())
        if report.memory is not None:
            maximum = report.memory.max_pages if report.memory.max_pages is not None else "unbounded"
            click.echo(
                f"  memory {report.memory.export_name}: {report.memory.min_pages} pages minimum, maximum {maximum}"
            )
        if report.ok:
            click.echo("valid teabox payload")
        else:
            click.echo("NOT a valid teabox payload:")
            for problem in report.problems:
                click.echo(f"  - {problem}")
    sys.exit(0 if report.ok else EXIT_CODES[FailureKind.INVALID_PAYLOAD])


@click.command("run")
@click.argument("payload", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--arg", "args", multiple=True, metavar="KEY=VALUE", help="An argument (repeatable).")
@click.option("--input", "inputs", multiple=True, metavar="NAME=PATH", help="Bind an input data name to a file.")
@click.option("--output", "outputs", multiple=True, metavar="NAME=PATH", help="Bind an output data name to a file.")
@click.option("--timeout", default="5s", show_default=True, help="Wall-clock limit, e.g. 5s or 250ms.")
@click.option("--fuel", type=int, default=None, help="Instruction budget (metering is off unless given).")
@click.option("--memory", default="64MiB", show_default=True, help="Linear-memory limit, e.g. 64MiB.")
@click.option("--stack", default="1MiB", show_default=True, help="Wasm call-stack limit.")
@click.option("--max-output", default="256MiB", show_default=True, help="Total bytes the payload may write.")
@click.option(
    "--isolation",
    type=click.Choice(["subprocess", "in-process"]),
    default="subprocess",
    show_default=True,
    help="Run in a sandbox process killed at the deadline (full speed), or in this process with "
    "in-engine deadline checks (no process start).",
)
@click.option("--json", "as_json", is_flag=True, help="Print the whole result as JSON.")
def run_command(
    payload: Path,
    args: tuple[str, ...],
    inputs: tuple[str, ...],
    outputs: tuple[str, ...],
    timeout: str,
    fuel: int | None,
    memory: str,
    stack: str,
    max_output: str,
    isolation: str,
    as_json: bool,
) -> None:
    """Run PAYLOAD's entrypoint with arguments and files; print its result.

      Exits 0 when the run succeeds, otherwise with a code per failure kind:
      10 invalid payload, 11 trap, 12 timeout, 13 out of fuel, 14 memory limit,
      15 output limit, 16 missing output, 17 host error, 18 function error (the
    payload reported its own error).
    """
    try:
        limits = Limits(
            timeout=_converted("--timeout", parse_duration, timeout),
            fuel=fuel,
            memory=_converted("--memory", parse_size, memory),
            stack=_converted("--stack", parse_size, stack),
            max_output_bytes=_converted("--max-output", parse_size, max_output),
        )
    except ValueError as exc:
        raise click.UsageError(str(exc)) from None
    module = payload.read_bytes()
    if not module.startswith(WASM_MAGIC):
        _refuse_non_module(payload)
    input_paths = _pairs("--input", inputs)
    for name, path in input_paths.items():
        if not Path(path).is_file():
            raise click.BadParameter(f"input {name!r}: no such file {path}", param_hint="--input")
    try:
        result = Executor(isolation=isolation).run(  # type: ignore[arg-type]
            module,
            _pairs("--arg", args),
            FileInputs(input_paths),
            FileOutputs(_pairs("--output", outputs)),
            limits,
        )
    except InvalidArguments as exc:
        raise click.BadParameter(str(exc), param_hint="--arg") from None
    if as_json:
        click.echo(json.dumps(_json_result(result), indent=2))
    elif result.ok:
        click.echo(result.return_value)
    else:
        assert result.failure is not None
        click.echo(f"run failed ({result.failure.kind.value}): {result.failure.message}", err=True)
        for line in result.failure.backtrace:
            click.echo(f"    {line}", err=True)
    if not as_json:
        for line in [*result.diagnostics, *_unbound_hints(result)]:
            click.echo(f"note: {line}", err=True)
    sys.exit(0 if result.failure is None else EXIT_CODES[result.failure.kind])


def _refuse_non_module(payload: Path) -> None:
    """A source file or crate given to ``run`` gets the build command that turns it into a module."""
    from teabox.toolchain.sources import SUFFIXES

    if payload.suffix.lower() in SUFFIXES or payload.name == "Cargo.toml":
        source = payload.parent if payload.name == "Cargo.toml" else payload
        name = source.resolve().name if payload.name == "Cargo.toml" else payload.stem
        raise click.BadParameter(
            f"{payload} is source code, not a WebAssembly module: build it first with "
            f"`teabox build {source} -o {name}.wasm`, then `teabox run {name}.wasm ...`",
            param_hint="PAYLOAD",
        )


def _unbound_hints(result: RunResult) -> list[str]:
    """Explain a return value that follows a refused open of a data name this run left unbound."""
    unbound = [m.groups() for m in map(_UNBOUND.search, result.diagnostics) if m]
    if not unbound:
        return []
    options = " ".join(f"--{kind} {name}=FILE" for kind, name in unbound)
    outcome = f"returned {result.return_value}" if result.ok else "failed"
    return [
        f"the payload {outcome} after teabox refused to open "
        + ", ".join(f"{kind} {name!r}" for kind, name in unbound)
        + f", which this run does not bind: add {options}"
    ]


def _json_result(result: RunResult) -> dict[str, Any]:
    """The result as JSON, with the entrypoint's return value as the integer it is."""
    data = result.to_dict()
    if result.return_value is not None:
        data["return_value"] = int(result.return_value)
    return data
