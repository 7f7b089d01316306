"""``teabox function ...``: register, update, disable, delete, get, list and usage."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from teabox.builtins import BUILTINS
from teabox.cli.platform_session import echo_json, open_client, platform_command
from teabox.client import FunctionArgument, FunctionInput, FunctionOutput
from teabox.units import parse_duration, parse_size


class _Parsed(click.ParamType[Any]):
    """A click type from one of the executor's parsers (``5s``, ``64MiB``)."""

    def __init__(self, name: str, parse: Callable[[str], Any]) -> None:
        self.name = name
        self._parse = parse

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        try:
            return self._parse(value) if isinstance(value, str) else value
        except ValueError as exc:
            self.fail(str(exc), param, ctx)


DURATION = _Parsed("duration", parse_duration)
SIZE = _Parsed("size", parse_size)


def _definition_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """The options shared by ``register`` and ``update``: a function's whole definition."""
    options = [
        click.option("--name", required=True),
        click.option("--description", default=""),
        click.option("--executor-type", default="wamr", show_default=True),
        click.option(
            "--payload",
            default=None,
            type=click.Path(exists=True, dir_okay=False, path_type=Path),
            help="The WebAssembly module (.wasm); none with --executor-type builtin.",
        ),
        click.option("--private", is_flag=True, help="Only the owner and allowlisted users may use it."),
        click.option(
            "--argument",
            "arguments",
            multiple=True,
            metavar="KEY[=DEFAULT]",
            help="An argument the task creator sets (repeatable).",
        ),
        click.option(
            "--fixed-argument",
            "fixed",
            multiple=True,
            metavar="KEY=VALUE",
            help="An argument with a fixed value the task creator cannot change.",
        ),
        click.option("--input", "inputs", multiple=True, metavar="NAME", help="A required input file."),
        click.option("--optional-input", "optional_inputs", multiple=True, metavar="NAME"),
        click.option("--output", "outputs", multiple=True, metavar="NAME", help="A required output file."),
        click.option("--optional-output", "optional_outputs", multiple=True, metavar="NAME"),
        click.option("--allow", "allowlist", multiple=True, metavar="USER_ID", help="Allowlist a user (repeatable)."),
        click.option("--quota", type=int, default=None, help="Maximum number of tasks (default unlimited)."),
        click.option("--timeout", type=DURATION, default=None, help="Wall-clock limit per run, e.g. 5s."),
        click.option("--memory", type=SIZE, default=None, help="Linear-memory limit, e.g. 64MiB."),
        click.option("--fuel", type=int, default=None, help="Instruction budget per run."),
        click.option("--max-output", type=SIZE, default=None, help="Total bytes a run may write."),
    ]
    for option in reversed(options):
        command = option(command)
    return command


def _definition(
    name: str,
    description: str,
    executor_type: str,
    payload: Path | None,
    private: bool,
    arguments: tuple[str, ...],
    fixed: tuple[str, ...],
    inputs: tuple[str, ...],
    optional_inputs: tuple[str, ...],
    outputs: tuple[str, ...],
    optional_outputs: tuple[str, ...],
    allowlist: tuple[str, ...],
    quota: int | None,
    timeout: float | None,
    memory: int | None,
    fuel: int | None,
    max_output: int | None,
) -> dict[str, Any]:
    """Turn the options into ``register_function``'s keyword arguments."""
    if payload is None and executor_type != "builtin":
        raise click.UsageError("--payload is required (except with --executor-type builtin)")
    declared = [FunctionArgument(k, d) for k, _, d in (a.partition("=") for a in arguments)]
    for item in fixed:
        key, sep, value = item.partition("=")
        if not sep:
            raise click.BadParameter(f"expected KEY=VALUE, got {item!r}", param_hint="--fixed-argument")
        declared.append(FunctionArgument(key, value, allow_overwrite=False))
    limits = {
        k: v
        for k, v in (
            ("timeout_seconds", timeout),
            ("memory_bytes", memory),
            ("fuel", fuel),
            ("max_output_bytes", max_output),
        )
        if v is not None
    }
    return {
        "name": name,
        "description": description,
        "executor_type": executor_type,
        "public": not private,
        "payload": payload,
        "arguments": declared,
        "inputs": [FunctionInput(n) for n in inputs] + [FunctionInput(n, optional=True) for n in optional_inputs],
        "outputs": [FunctionOutput(n) for n in outputs] + [FunctionOutput(n, optional=True) for n in optional_outputs],
        "user_allowlist": list(allowlist),
        "usage_quota": quota,
        "limits": limits or None,
    }


@click.group("function")
def function_group() -> None:
    """Manage functions: WebAssembly payloads that tasks run."""


@function_group.command("register")
@_definition_options
@platform_command
def register_command(**options: Any) -> None:
    """Register a function; prints its id."""
    with open_client() as client:
        click.echo(client.register_function(**_definition(**options)))


@function_group.command("update")
@click.argument("function_id")
@_definition_options
@platform_command
def update_command(function_id: str, **options: Any) -> None:
    """Replace a function's definition (same id)."""
    with open_client() as client:
        click.echo(client.update_function(function_id, **_definition(**options)))


@function_group.command("disable")
@click.argument("function_id")
@platform_command
def disable_command(function_id: str) -> None:
    """Disable a function: no new task may use it."""
    with open_client() as client:
        client.disable_function(function_id)
    click.echo(f"Disabled {function_id}.", err=True)


@function_group.command("delete")
@click.argument("function_id")
@platform_command
def delete_command(function_id: str) -> None:
    """Delete a function."""
    with open_client() as client:
        client.delete_function(function_id)
    click.echo(f"Deleted {function_id}.", err=True)


@function_group.command("get")
@click.argument("function_id")
@platform_command
def get_command(function_id: str) -> None:
    """Show a function as JSON."""
    with open_client() as client:
        echo_json(client.get_function(function_id))


@function_group.command("list")
@click.option("--user", "user_id", default=None, help="Another user's functions (admin only).")
@platform_command
def list_command(user_id: str | None) -> None:
    """List the functions you registered and those you are allowed to use."""
    with open_client() as client:
        echo_json(client.list_functions(user_id))


@function_group.command("usage")
@click.argument("function_id")
@platform_command
def usage_command(function_id: str) -> None:
    """Show a function's quota and how much of it is used."""
    with open_client() as client:
        echo_json(client.get_function_usage_stats(function_id))


@function_group.command("download")
@click.argument("function_id")
@click.argument("destination", type=click.Path(dir_okay=False, path_type=Path))
@platform_command
def download_command(function_id: str, destination: Path) -> None:
    """Save a function's payload (if you may see it) to DESTINATION."""
    with open_client() as client:
        size = client.download_payload(function_id, destination)
    click.echo(f"Saved {size} bytes to {destination}.", err=True)


@function_group.command("builtins")
@click.option("--json", "as_json", is_flag=True, help="Print the list as JSON.")
def builtins_command(as_json: bool) -> None:
    """List the built-in functions (register them with --executor-type builtin and no payload)."""
    if as_json:
        echo_json([builtin.to_dict() for builtin in BUILTINS.values()])
        return
    for builtin in BUILTINS.values():
        click.echo(builtin.name)
        click.echo(f"  {builtin.summary}")
        for label, names in (
            ("arguments", builtin.arguments),
            ("inputs", builtin.inputs),
            ("outputs", builtin.outputs),
        ):
            click.echo(f"  {label + ':':<11}{', '.join(names) or '-'}")
