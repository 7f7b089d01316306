"""``teabox quickstart``: a whole multi-party task on a throw-away platform, in seconds.

It starts ``teabox serve`` on a free port with a temporary data directory,
creates the admin and three users, and runs Yao's millionaire problem
(:mod:`teabox.demo.millionaire`) over HTTP with encrypted inputs and an
encrypted output, printing every step; then it stops the server and removes
the data directory.
"""

from __future__ import annotations

import time

import click
from rich.console import Console

from teabox.cli.platform_session import reports_errors


@click.command("quickstart")
@click.option("--workers", default=1, show_default=True, help="Worker processes for the throw-away platform.")
@click.option("--alice", "alice_wealth", default=None, type=int, help="Alice's wealth (default 4211037).")
@click.option("--bob", "bob_wealth", default=None, type=int, help="Bob's wealth (default 1008611).")
@reports_errors
def quickstart_command(workers: int, alice_wealth: int | None, bob_wealth: int | None) -> None:
    """Start a local platform and run a two-party task end to end."""
    console = Console(highlight=False, soft_wrap=True)

    def say(text: str) -> None:
        console.print(text, markup=False)

    started = time.monotonic()
    say("teabox quickstart: build the payload, start a throw-away platform, run a two-party task, stop")
    with console.status("building the millionaire payload ..."):
        from teabox.client import Client
        from teabox.demo.flows import FlowLog
        from teabox.demo.millionaire import millionaire_flow, millionaire_payload
        from teabox.testing.local_server import LocalServer

        millionaire_payload(on_first_build=lambda note: say(f"[.] first build on this machine: {note}"))
    say(f"[+] built the payload from millionaire.c in {time.monotonic() - started:.1f} s")
    wealth = {k: v for k, v in (("alice_wealth", alice_wealth), ("bob_wealth", bob_wealth)) if v is not None}
    with (
        console.status("starting a local platform: teabox admin create, then teabox serve on a free port ..."),
        LocalServer(workers=workers) as server,
    ):
        say(
            f"[+] platform up at {server.url} in {time.monotonic() - started:.1f} s "
            f"(data in {server.data_dir}, removed afterwards)"
        )
        with Client(server.url) as admin:
            admin.user_login(server.admin_id, server.admin_password)
            say(f"[+] {server.admin_id}: logged in as PlatformAdmin (created with `teabox admin create`)")
            result = millionaire_flow(admin, FlowLog(say), **wealth)
    say(
        f"[+] done in {time.monotonic() - started:.1f} s: task {result.task_id} returned "
        f"{result.return_value.decode()}, verdict {result.verdict!r}"
    )
