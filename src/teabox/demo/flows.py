"""What every multi-party flow needs: narration, fresh users, example payloads, a script entry point.

Teaclave's example flows print each party's step; its tests check the task's
state after each one. A :class:`FlowLog` does both at once, so the same flow
code serves ``teabox quickstart``, the scripts in ``examples/flows`` and the
end-to-end tests, which assert on :attr:`FlowLog.statuses`.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from teabox import config
from teabox.client.client import Client


@dataclass(frozen=True)
class Step:
    actor: str
    action: str
    status: str | None  # the task's status right after the step, when a task is involved


@dataclass
class FlowLog:
    """``say`` prints each line; ``on_step`` runs after each step (tests use it to, say, restart
    the server between two parties' steps)."""

    say: Callable[[str], None] = print
    on_step: Callable[[Step], None] | None = None
    steps: list[Step] = field(default_factory=list)

    def note(self, text: str) -> None:
        """Say something that is not a step (a heading, a result)."""
        self.say(text)

    def step(self, actor: Client | str, action: str, task_id: str | None = None) -> str | None:
        """Record that ``actor`` did ``action``; with a task, read and show its status as the actor sees it."""
        name = actor if isinstance(actor, str) else actor.user_id or "?"
        status = actor.get_task(task_id).status if isinstance(actor, Client) and task_id is not None else None
        self.steps.append(Step(name, action, status))
        self.say(f"[+] {name}: {action}" + (f"  [task {status}]" if status else ""))
        if self.on_step is not None:
            self.on_step(self.steps[-1])
        return status

    @property
    def statuses(self) -> list[str]:
        """The task status after each step that involved a task, in order."""
        return [s.status for s in self.steps if s.status is not None]


def new_user(admin: Client, name: str, role: str, attribute: str = "") -> Client:
    """Register ``name`` plus a random suffix (so a flow can run again on the same
    platform) with a random password, and return the user's logged-in client."""
    user_id = f"{name}-{secrets.token_hex(3)}"
    password = secrets.token_urlsafe(16)
    admin.user_register(user_id, password, role, attribute)
    client = Client(admin.url)
    client.user_login(user_id, password)
    return client


def build_payload(source: Path, on_first_build: Callable[[str], None] | None = None) -> bytes:
    """Build the payload at ``source`` (cached after the first build) and return its bytes: a Rust crate
    directory, a directory of C, C++ or Zig sources, or one source file. ``on_first_build`` hears why a
    first build of its kind on this machine takes longer."""
    from teabox.toolchain import build

    files: Path | list[Path] = (
        source
        if source.is_file() or (source / "Cargo.toml").exists()
        else sorted(p for p in source.iterdir() if p.suffix in (".c", ".cc", ".cpp", ".zig"))
    )
    return build(files, on_first_build=on_first_build).wasm


Flow = Callable[[Client, FlowLog], Any]


def run_flow_script(flow: Flow, argv: list[str] | None = None) -> Any:
    """The command line of a flow script: run ``flow`` against a server, or a throw-away local one.

    ``--url`` (or ``$TEABOX_URL``) names a running server whose PlatformAdmin
    password is read from ``$TEABOX_ADMIN_PASSWORD``; without a URL, a local
    platform is started for the run and stopped afterwards.
    """
    import argparse

    from teabox.testing.local_server import LocalServer

    parser = argparse.ArgumentParser(description=(flow.__doc__ or "").strip().splitlines()[0])
    parser.add_argument("--url", default=config.URL.get(), help="a running teabox server (default: start a local one)")
    parser.add_argument(
        "--admin", default=config.ADMIN.get() or config.DEFAULT_ADMIN, help="the PlatformAdmin's user id"
    )
    options = parser.parse_args(argv)
    log = FlowLog()
    if options.url:
        password = config.ADMIN_PASSWORD.get()
        if not password:
            parser.error("set TEABOX_ADMIN_PASSWORD to the PlatformAdmin's password")
        with Client(options.url) as admin:
            admin.user_login(options.admin, password)
            return flow(admin, log)
    with LocalServer() as server, Client(server.url) as admin:
        log.note(f"[+] started a local platform at {server.url}")
        admin.user_login(server.admin_id, server.admin_password)
        return flow(admin, log)
