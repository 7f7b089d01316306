"""``teabox file ...`` (registrations, hosted inputs and outputs) and ``teabox upload``/``download``.

Local encryption alone is ``teabox encrypt``/``decrypt``. Keys are given and shown as hex.
The server never returns a key, so the commands that draw a fresh one print it once, in
their JSON answer: keep it.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import click

from teabox.cli.platform_progress import transfer_bar
from teabox.cli.platform_session import echo_json, open_client, platform_command
from teabox.client import CryptoInfo, OwnedFile
from teabox.client.crypto import DEFAULT_SCHEMA
from teabox.errors import TeaboxError
from teabox.formats.crypto_info import SCHEMAS

_SCHEMA = click.option("--schema", default=DEFAULT_SCHEMA, show_default=True, type=click.Choice(list(SCHEMAS)))
_KEY = click.option("--key", required=True, help="The key, as hex.")
_IV = click.option("--iv", default="", help="The IV, as hex (empty for teaclave-file-128).")
EXISTING_FILE = click.Path(exists=True, dir_okay=False, path_type=Path)
NEW_FILE = click.Path(dir_okay=False, path_type=Path)
_QUIET = click.option("-q", "--quiet", is_flag=True, help="Print only the new data id (for scripts).")
_SAVE_KEY = click.option(
    "--key-file",
    type=NEW_FILE,
    default=None,
    help="Also save the JSON answer (id, schema, key, iv) to this new file, readable only by you.",
)


def _crypto(schema: str, key: str | None, iv: str) -> CryptoInfo | None:
    """The given key as a checked ``CryptoInfo`` (a usage error if it does not fit), or None for a fresh one."""
    try:
        return CryptoInfo.from_hex(schema, key, iv) if key is not None else None
    except TeaboxError as exc:
        raise click.BadParameter(str(exc), param_hint="--key/--iv") from None


def _owned_json(owned: OwnedFile) -> dict[str, Any]:
    c = owned.crypto
    return {
        "data_id": owned.data_id,
        "url": owned.url,
        "schema": c.schema,
        "key": c.key.hex(),
        "iv": c.iv.hex(),
        "cmac": owned.cmac.hex() if owned.cmac is not None else None,
    }


@click.group("file")
def file_group() -> None:
    """Register input and output files; upload inputs and fetch outputs with client-side encryption."""


@file_group.command("register-input")
@click.argument("url")
@_SCHEMA
@_KEY
@_IV
@click.option("--cmac", required=True, help="The file's 16-byte tag, as hex.")
@platform_command
def register_input_command(url: str, schema: str, key: str, iv: str, cmac: str) -> None:
    """Register an encrypted file at URL as an input; prints its id."""
    _crypto(schema, key, iv)
    with open_client() as client:
        click.echo(client.register_input_file(url, schema, key, iv, cmac))


@file_group.command("register-output")
@click.argument("url")
@_SCHEMA
@_KEY
@_IV
@platform_command
def register_output_command(url: str, schema: str, key: str, iv: str) -> None:
    """Register URL as an output a task will write, encrypted with your key; prints its id."""
    _crypto(schema, key, iv)
    with open_client() as client:
        click.echo(client.register_output_file(url, schema, key, iv))


@file_group.command("update-input")
@click.argument("data_id")
@click.argument("url")
@platform_command
def update_input_command(data_id: str, url: str) -> None:
    """Point an input at a new URL; prints the new record's id."""
    with open_client() as client:
        click.echo(client.update_input_file(data_id, url))


@file_group.command("update-output")
@click.argument("data_id")
@click.argument("url")
@platform_command
def update_output_command(data_id: str, url: str) -> None:
    """Point an output at a new URL; prints the new record's id."""
    with open_client() as client:
        click.echo(client.update_output_file(data_id, url))


@file_group.command("get-input")
@click.argument("data_id")
@platform_command
def get_input_command(data_id: str) -> None:
    """Show an input file record as JSON."""
    with open_client() as client:
        echo_json(client.get_input_file(data_id))


@file_group.command("get-output")
@click.argument("data_id")
@platform_command
def get_output_command(data_id: str) -> None:
    """Show an output file record as JSON (cmac is null until a task writes it)."""
    with open_client() as client:
        echo_json(client.get_output_file(data_id))


@file_group.command("fusion-output")
@click.argument("owners", nargs=-1, required=True)
@platform_command
def fusion_output_command(owners: tuple[str, ...]) -> None:
    """Register an output owned jointly by OWNERS (you among them); prints its id."""
    with open_client() as client:
        click.echo(client.register_fusion_output(list(owners)))


@file_group.command("accept-fusion")
@click.argument("data_id")
@platform_command
def accept_fusion_command(data_id: str) -> None:
    """Agree to co-own the fusion output DATA_ID; prints the owners still to agree, one per line."""
    with open_client() as client:
        for owner in client.accept_fusion_output(data_id):
            click.echo(owner)


@file_group.command("input-from-output")
@click.argument("data_id")
@platform_command
def input_from_output_command(data_id: str) -> None:
    """Register an output a task wrote as an input; prints the input's id."""
    with open_client() as client:
        click.echo(client.register_input_from_output(data_id))


def _check_new_key_file(key_file: Path | None) -> None:
    """Refuse before any work, so that an old key is never overwritten (its data would be lost)."""
    if key_file is not None and key_file.exists():
        raise click.BadParameter(f"{key_file} exists; remove it or choose another file", param_hint="--key-file")


def _report_owned(owned: OwnedFile, quiet: bool, key_file: Path | None) -> None:
    answer = _owned_json(owned)
    if key_file is not None:
        fd = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as f:
            json.dump(answer, f, indent=2)
    if quiet:
        click.echo(owned.data_id)
    else:
        echo_json(answer)


@file_group.command("upload-input")
@click.argument("path", type=EXISTING_FILE)
@_SCHEMA
@click.option("--key", default=None, help="Encrypt with this key (hex) instead of a fresh random one.")
@_IV
@click.option("--name", default=None, help="The name to store it under (default: PATH's name + .enc).")
@_QUIET
@_SAVE_KEY
@platform_command
def upload_input_command(
    path: Path, schema: str, key: str | None, iv: str, name: str | None, quiet: bool, key_file: Path | None
) -> None:
    """Encrypt PATH here, upload the ciphertext and register it as an input; prints JSON with the key."""
    crypto = _crypto(schema, key, iv)
    _check_new_key_file(key_file)
    with open_client() as client, transfer_bar(f"upload {path.name}") as progress:
        owned = client.register_local_input(path, crypto=crypto, schema=schema, name=name, progress=progress)
    _report_owned(owned, quiet, key_file)


@file_group.command("new-output")
@click.argument("name")
@_SCHEMA
@click.option("--key", default=None, help="Use this key (hex) instead of a fresh random one.")
@_IV
@_QUIET
@_SAVE_KEY
@platform_command
def new_output_command(name: str, schema: str, key: str | None, iv: str, quiet: bool, key_file: Path | None) -> None:
    """Reserve a platform-hosted file and register it as an output; prints JSON with the key."""
    if quiet and key is None and key_file is None:
        raise click.UsageError(
            "--quiet would print only the id and lose the fresh key that decrypts the output: "
            "add --key-file FILE to keep it, or give --key"
        )
    crypto = _crypto(schema, key, iv)
    _check_new_key_file(key_file)
    with open_client() as client:
        owned = client.register_hosted_output(name, crypto=crypto, schema=schema)
    _report_owned(owned, quiet, key_file)


def _crypto_from_key_file(key_file: Path) -> CryptoInfo:
    try:
        saved = json.loads(key_file.read_text())
        return CryptoInfo.from_hex(saved["schema"], saved["key"], saved.get("iv", ""))
    except (ValueError, KeyError, TypeError, TeaboxError) as exc:
        raise click.BadParameter(
            f"{key_file} is not a key file written by `teabox file new-output --key-file` ({exc})",
            param_hint="--key-file",
        ) from None


@file_group.command("fetch-output")
@click.argument("data_id")
@click.argument("destination", type=NEW_FILE)
@_SCHEMA
@click.option("--key", default=None, help="The key, as hex (or give --key-file).")
@_IV
@click.option(
    "--key-file",
    type=EXISTING_FILE,
    default=None,
    help="The key file written by `teabox file new-output --key-file` (instead of --schema, --key, --iv).",
)
@platform_command
def fetch_output_command(
    data_id: str, destination: Path, schema: str, key: str | None, iv: str, key_file: Path | None
) -> None:
    """Download an output a task wrote, check its tag and decrypt it to DESTINATION."""
    if (key is None) == (key_file is None):
        raise click.UsageError("give the output's key with either --key or --key-file")
    crypto = _crypto_from_key_file(key_file) if key_file is not None else _crypto(schema, key, iv)
    assert crypto is not None
    with open_client() as client, transfer_bar(f"download {data_id}") as progress:
        client.fetch_output(data_id, crypto, destination, progress=progress)
    click.echo(f"Decrypted {data_id} into {destination}.", err=True)


@click.command("upload")
@click.argument("path", type=EXISTING_FILE)
@click.option("--name", default=None, help="The URL's last component (default: PATH's name).")
@platform_command
def upload_command(path: Path, name: str | None) -> None:
    """Upload a file (already encrypted) to the platform; prints its teabox:// URL."""
    with open_client() as client, transfer_bar(f"upload {path.name}") as progress:
        hosted = client.upload_file(path, name, progress=progress)
    click.echo(hosted.url)


@click.command("download")
@click.argument("url")
@click.argument("destination", type=NEW_FILE)
@platform_command
def download_command(url: str, destination: Path) -> None:
    """Download a platform-hosted file (as stored: encrypted) to DESTINATION."""
    with open_client() as client, transfer_bar(f"download {url.rsplit('/', 1)[-1]}") as progress:
        size = client.download_file(url, destination, progress=progress)
    click.echo(f"Saved {size} bytes to {destination}.", err=True)
