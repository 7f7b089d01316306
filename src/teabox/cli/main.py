"""The ``teabox`` command.

Subcommands live in their own modules and are imported only when invoked, so
``teabox run`` does not pay for importing the HTTP service or the SQL layer,
and the lean install (without the ``server`` and ``toolchain`` extras) runs
every command whose dependencies it has; the others name the extra to install.
"""

from __future__ import annotations

import importlib

import click

from teabox.config import ConfigError

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
    "ping": "teabox.cli.platform_login:ping_command",
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


# The extra whose packages a command needs beyond the core (SDK, file formats, CLI).
EXTRA_OF_COMMAND: dict[str, str] = {
    "serve": "server",
    "worker": "server",
    "admin": "server",
    "build": "toolchain",
    "sdk-path": "toolchain",
    "inspect": "toolchain",
    "run": "toolchain",
    "quickstart": "all",
}


class MissingExtra(click.ClickException):
    """A command's optional dependencies are not installed; the message says how to get them."""

    def __init__(self, command: str, module: str) -> None:
        extra = EXTRA_OF_COMMAND.get(command, "all")
        super().__init__(
            f"`teabox {command}` needs the Python package {module!r}, which comes with teabox's '{extra}' extra: "
            f"run pip install '.[{extra}]' in a clone of the teabox repository"
        )


class LazyGroup(click.Group):
    """A click group that imports a subcommand's module on first use."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMANDS)

    def resolve_command(
        self, ctx: click.Context, args: list[str]
    ) -> tuple[str | None, click.Command | None, list[str]]:
        # click looks for close matches in ``self.commands``, which a lazy group leaves empty.
        try:
            return super().resolve_command(ctx, args)
        except click.exceptions.NoSuchCommand as exc:
            raise click.exceptions.NoSuchCommand(exc.command_name, possibilities=COMMANDS, ctx=ctx) from None

    def invoke(self, ctx: click.Context) -> object:
        try:
            return super().invoke(ctx)
        except ModuleNotFoundError as exc:
            raise _missing_extra(ctx.invoked_subcommand or "", exc) from None
        except ConfigError as exc:  # an environment variable's value: one line naming it, not a traceback
            raise click.ClickException(str(exc)) from None

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        target = COMMANDS.get(cmd_name)
        if target is None:
            return None
        module_name, attribute = target.split(":")
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            raise _missing_extra(cmd_name, exc) from None
        command: click.Command = getattr(module, attribute)
        return command


def _missing_extra(command: str, exc: ModuleNotFoundError) -> Exception:
    """A missing third-party module becomes the install hint; a missing part of teabox stays a bug."""
    package = (exc.name or "").split(".")[0]
    return exc if package in ("", "teabox") else MissingExtra(command, package)


@click.group(cls=LazyGroup)
@click.version_option(package_name="teabox")
def main() -> None:
    """teabox: run untrusted WebAssembly functions on private data."""
