"""``teabox task ...``: create, assign, approve, invoke, cancel, get, list and wait."""

from __future__ import annotations

import json

import click

from teabox.cli.platform_progress import describe_status, wait_spinner
from teabox.cli.platform_session import (
    EXIT_INTERRUPTED,
    EXIT_TASK_CANCELED,
    EXIT_TASK_FAILED,
    EXIT_WAIT_TIMEOUT,
    echo_json,
    open_client,
    platform_command,
)
from teabox.client import Client, DataMap, OwnerList
from teabox.client.client import DEFAULT_WAIT_SECONDS
from teabox.client.errors import ClientError

# How often a waiting command asks what the task is doing, for the spinner.
STATUS_POLL_SECONDS = 1.0
_WAIT_EXITS = (
    f"Exit status: 0 finished, {EXIT_TASK_FAILED} failed, {EXIT_TASK_CANCELED} canceled, "
    f"{EXIT_WAIT_TIMEOUT} still running at --timeout, {EXIT_INTERRUPTED} interrupted (Ctrl-C; the task goes on)."
)


def _pairs(option: str, values: tuple[str, ...]) -> list[tuple[str, str]]:
    pairs = []
    for value in values:
        key, sep, rest = value.partition("=")
        if not sep or not key:
            raise click.BadParameter(f"expected NAME=VALUE, got {value!r}", param_hint=option)
        pairs.append((key, rest))
    return pairs


def _owners(option: str, values: tuple[str, ...]) -> list[OwnerList]:
    return [OwnerList(name, [u for u in uids.split(",") if u]) for name, uids in _pairs(option, values)]


def _argument_value(text: str) -> object:
    """``--arg n=3`` sends the number 3 and ``--arg s=abc`` the string, as JSON would read them."""
    try:
        value = json.loads(text)
    except ValueError:
        return text
    return value if isinstance(value, (int, float, bool)) else text


@click.group("task")
def task_group() -> None:
    """Create and run multi-party tasks."""


@task_group.command("create")
@click.argument("function_id")
@click.option("--arg", "arguments", multiple=True, metavar="KEY=VALUE", help="A function argument (repeatable).")
@click.option(
    "--input-owner",
    "input_owners",
    multiple=True,
    metavar="NAME=UID[,UID...]",
    help="Who owns the input file bound to NAME (repeatable).",
)
@click.option("--output-owner", "output_owners", multiple=True, metavar="NAME=UID[,UID...]")
@click.option("--executor", default="wamr", show_default=True)
@platform_command
def create_command(
    function_id: str,
    arguments: tuple[str, ...],
    input_owners: tuple[str, ...],
    output_owners: tuple[str, ...],
    executor: str,
) -> None:
    """Create a task for FUNCTION_ID; prints its id."""
    args = {k: _argument_value(v) for k, v in _pairs("--arg", arguments)}
    with open_client() as client:
        click.echo(
            client.create_task(
                function_id,
                args,
                executor,
                _owners("--input-owner", input_owners),
                _owners("--output-owner", output_owners),
            )
        )


@task_group.command("assign")
@click.argument("task_id")
@click.option("--input", "inputs", multiple=True, metavar="NAME=DATA_ID", help="Bind an input file.")
@click.option("--output", "outputs", multiple=True, metavar="NAME=DATA_ID", help="Bind an output file.")
@platform_command
def assign_command(task_id: str, inputs: tuple[str, ...], outputs: tuple[str, ...]) -> None:
    """Bind your registered files to the task's data names."""
    with open_client() as client:
        client.assign_data_to_task(
            task_id,
            [DataMap(n, d) for n, d in _pairs("--input", inputs)],
            [DataMap(n, d) for n, d in _pairs("--output", outputs)],
        )
        click.echo(f"{task_id}: {client.get_task(task_id).status}", err=True)


@task_group.command("approve")
@click.argument("task_id")
@platform_command
def approve_command(task_id: str) -> None:
    """Approve the task's use of your data."""
    with open_client() as client:
        client.approve_task(task_id)
        click.echo(f"{task_id}: {client.get_task(task_id).status}", err=True)


@task_group.command("invoke")
@click.argument("task_id")
@click.option("--wait/--no-wait", default=False, help="Wait for the result and print it.")
@click.option("--timeout", default=DEFAULT_WAIT_SECONDS, show_default=True, help="Seconds to wait with --wait.")
@platform_command
def invoke_command(task_id: str, wait: bool, timeout: float) -> None:
    """Start the task (creator only); with --wait, wait for its result and print it as JSON."""
    with open_client() as client:
        client.invoke_task(task_id)
        click.echo(f"{task_id}: invoked", err=True)
        if wait:
            _wait(client, task_id, timeout)


@task_group.command("cancel")
@click.argument("task_id")
@platform_command
def cancel_command(task_id: str) -> None:
    """Cancel the task (creator or admin); a running payload is stopped."""
    with open_client() as client:
        client.cancel_task(task_id)
    click.echo(f"{task_id}: cancel requested", err=True)


@task_group.command("get")
@click.argument("task_id")
@platform_command
def get_command(task_id: str) -> None:
    """Show the task's full state as JSON."""
    with open_client() as client:
        echo_json(client.get_task(task_id))


@task_group.command("list")
@platform_command
def list_command() -> None:
    """List the tasks you take part in."""
    with open_client() as client:
        for task_id in client.list_tasks():
            click.echo(task_id)


@task_group.command("wait")
@click.argument("task_id")
@click.option("--timeout", default=DEFAULT_WAIT_SECONDS, show_default=True, help="Give up after this many seconds.")
@platform_command
def wait_command(task_id: str, timeout: float) -> None:
    """Wait for the task to end and print its result as JSON."""
    with open_client() as client:
        _wait(client, task_id, timeout)


for _waiting_command in (invoke_command, wait_command):
    _waiting_command.help = f"{_waiting_command.help}\n\n{_WAIT_EXITS}"


def _wait(client: Client, task_id: str, timeout: float) -> None:
    """Wait with a spinner; Ctrl-C stops only the waiting, and says so."""
    try:
        click.echo(f"Waiting for task {task_id} (Ctrl-C stops the waiting, not the task).", err=True)
        with wait_spinner(f"task {task_id}", client.get_task(task_id).status) as on_wait:
            result = client.wait_for_task(task_id, timeout, on_wait=on_wait, poll_seconds=STATUS_POLL_SECONDS)
    except KeyboardInterrupt:
        try:
            status = describe_status(client.get_task(task_id).status)
        except ClientError as exc:
            status = f"in an unknown state ({exc})"
        click.echo(
            f"Stopped waiting. Task {task_id} is {status}; it goes on without you: "
            f"`teabox task wait {task_id}` waits again, `teabox task cancel {task_id}` stops it.",
            err=True,
        )
        raise SystemExit(EXIT_INTERRUPTED) from None
    echo_json(result)


@task_group.command("cmac")
@click.argument("task_id")
@click.argument("data_name")
@platform_command
def cmac_command(task_id: str, data_name: str) -> None:
    """Print the tag the task recorded for output DATA_NAME (hex)."""
    with open_client() as client:
        click.echo(client.get_output_cmac_by_tag(task_id, data_name).hex())
