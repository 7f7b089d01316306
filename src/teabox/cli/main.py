"""The ``teabox`` command.

Subcommands live in their own modules and are imported only when invoked, so
``teabox run`` does not pay for importing the HTTP service or the SQL layer.
"""

from __future__ import annotations

import importlib

import click

# command name -> "module:attribute" of a click command
COMMANDS: dict[str, str] = {
    "serve": "teabox.cli.serve:serve_command",
    "worker": "teabox.cli.worker:worker_command",
    "admin": "teabox.cli.admin:admin_group",
    "build": "teabox.cli.build:build_command",
    "sdk-path": "teabox.cli.build:sdk_path_command",
    "inspect": "teabox.cli.run:inspect_command",
    "run": "teabox.cli.run:run_command",
    "login": "teabox.cli.platform_login:login_command",
    "logout": "teabox.cli.platform_login:logout_command",
    "whoami": "teabox.cli.platform_login:whoami_command",
    "user": "teabox.cli.platform_user:user_group",
    "audit": "teabox.cli.platform_user:audit_command",
    "function": "teabox.cli.platform_function:function_group",
    "file": "teabox.cli.platform_file:file_group",
    "upload": "teabox.cli.platform_file:upload_command",
    "download": "teabox.cli.platform_file:download_command",
    "task": "teabox.cli.platform_task:task_group",
    "quickstart": "teabox.cli.quickstart:quickstart_command",
    "encrypt": "teabox.cli.crypto:encrypt_command",
    "decrypt": "teabox.cli.crypto:decrypt_command",
    "verify": "teabox.cli.crypto:verify_command",
}


class LazyGroup(click.Group):
    """A click group that imports a subcommand's module on first use."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        target = COMMANDS.get(cmd_name)
        if target is None:
            return None
        module_name, attribute = target.split(":")
        command: click.Command = getattr(importlib.import_module(module_name), attribute)
        return command


@click.group(cls=LazyGroup)
@click.version_option(package_name="teabox")
def main() -> None:
    """teabox: run untrusted WebAssembly functions on private data."""
