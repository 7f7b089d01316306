"""``teabox file ...`` (registrations, hosted inputs and outputs) and ``teabox upload``/``download``.

Local encryption alone is ``teabox encrypt``/``decrypt``. Keys are given and shown as hex.
The server never returns a key, so the commands that draw a fresh one print it once, in
their JSON answer: keep it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from teabox.cli.platform_progress import transfer_bar
from teabox.cli.platform_session import echo_json, open_client, reports_errors
from teabox.client import CryptoInfo, OwnedFile
from teabox.client.crypto import DEFAULT_SCHEMA

_SCHEMA = click.option(
    "--schema", default=DEFAULT_SCHEMA, show_default=True, help="aes-gcm-128, aes-gcm-256, teaclave-file-128 or raw."
)
_KEY = click.option("--key", required=True, help="The key, as hex.")
_IV = click.option("--iv", default="", help="The IV, as hex (empty for teaclave-file-128).")
EXISTING_FILE = click.Path(exists=True, dir_okay=False, path_type=Path)
NEW_FILE = click.Path(dir_okay=False, path_type=Path)


def _crypto(schema: str, key: str | None, iv: str) -> CryptoInfo | None:
    return CryptoInfo.from_hex(schema, key, iv) if key is not None else None


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
@reports_errors
def register_input_command(url: str, schema: str, key: str, iv: str, cmac: str) -> None:
    """Register an encrypted file at URL as an input; prints its id."""
    with open_client() as client:
        click.echo(client.register_input_file(url, schema, key, iv, cmac))


@file_group.command("register-output")
@click.argument("url")
@_SCHEMA
@_KEY
@_IV
@reports_errors
def register_output_command(url: str, schema: str, key: str, iv: str) -> None:
    """Register URL as an output a task will write, encrypted with your key; prints its id."""
    with open_client() as client:
        click.echo(client.register_output_file(url, schema, key, iv))


@file_group.command("update-input")
@click.argument("data_id")
@click.argument("url")
@reports_errors
def update_input_command(data_id: str, url: str) -> None:
    """Point an input at a new URL; prints the new record's id."""
    with open_client() as client:
        click.echo(client.update_input_file(data_id, url))


@file_group.command("update-output")
@click.argument("data_id")
@click.argument("url")
@reports_errors
def update_output_command(data_id: str, url: str) -> None:
    """Point an output at a new URL; prints the new record's id."""
    with open_client() as client:
        click.echo(client.update_output_file(data_id, url))


@file_group.command("get-input")
@click.argument("data_id")
@reports_errors
def get_input_command(data_id: str) -> None:
    """Show an input file record as JSON."""
    with open_client() as client:
        echo_json(client.get_input_file(data_id))


@file_group.command("get-output")
@click.argument("data_id")
@reports_errors
def get_output_command(data_id: str) -> None:
    """Show an output file record as JSON (cmac is null until a task writes it)."""
    with open_client() as client:
        echo_json(client.get_output_file(data_id))


@file_group.command("fusion-output")
@click.argument("owners", nargs=-1, required=True)
@reports_errors
def fusion_output_command(owners: tuple[str, ...]) -> None:
    """Register an output owned jointly by OWNERS (you among them); prints its id."""
    with open_client() as client:
        click.echo(client.register_fusion_output(list(owners)))


@file_group.command("accept-fusion")
@click.argument("data_id")
@reports_errors
def accept_fusion_command(data_id: str) -> None:
    """Agree to co-own the fusion output DATA_ID; prints the owners still to agree, one per line."""
    with open_client() as client:
        for owner in client.accept_fusion_output(data_id):
            click.echo(owner)


@file_group.command("input-from-output")
@click.argument("data_id")
@reports_errors
def input_from_output_command(data_id: str) -> None:
    """Register an output a task wrote as an input; prints the input's id."""
    with open_client() as client:
        click.echo(client.register_input_from_output(data_id))


@file_group.command("upload-input")
@click.argument("path", type=EXISTING_FILE)
@_SCHEMA
@click.option("--key", default=None, help="Encrypt with this key (hex) instead of a fresh random one.")
@_IV
@click.option("--name", default=None, help="The name to store it under (default: PATH's name + .enc).")
@reports_errors
def upload_input_command(path: Path, schema: str, key: str | None, iv: str, name: str | None) -> None:
    """Encrypt PATH here, upload the ciphertext and register it as an input; prints JSON with the key."""
    with open_client() as client, transfer_bar(f"upload {path.name}") as progress:
        owned = client.register_local_input(
            path, crypto=_crypto(schema, key, iv), schema=schema, name=name, progress=progress
        )
    echo_json(_owned_json(owned))


@file_group.command("new-output")
@click.argument("name")
@_SCHEMA
@click.option("--key", default=None, help="Use this key (hex) instead of a fresh random one.")
@_IV
@reports_errors
def new_output_command(name: str, schema: str, key: str | None, iv: str) -> None:
    """Reserve a platform-hosted file and register it as an output; prints JSON with the key."""
    with open_client() as client:
        echo_json(_owned_json(client.register_hosted_output(name, crypto=_crypto(schema, key, iv), schema=schema)))


@file_group.command("fetch-output")
@click.argument("data_id")
@click.argument("destination", type=NEW_FILE)
@_SCHEMA
@_KEY
@_IV
@reports_errors
def fetch_output_command(data_id: str, destination: Path, schema: str, key: str, iv: str) -> None:
    """Download an output a task wrote, check its tag and decrypt it to DESTINATION."""
    crypto = CryptoInfo.from_hex(schema, key, iv)
    with open_client() as client, transfer_bar(f"download {data_id}") as progress:
        client.fetch_output(data_id, crypto, destination, progress=progress)
    click.echo(f"Decrypted {data_id} into {destination}.", err=True)


@click.command("upload")
@click.argument("path", type=EXISTING_FILE)
@click.option("--name", default=None, help="The URL's last component (default: PATH's name).")
@reports_errors
def upload_command(path: Path, name: str | None) -> None:
    """Upload a file (already encrypted) to the platform; prints its teabox:// URL."""
    with open_client() as client, transfer_bar(f"upload {path.name}") as progress:
        hosted = client.upload_file(path, name, progress=progress)
    click.echo(hosted.url)


@click.command("download")
@click.argument("url")
@click.argument("destination", type=NEW_FILE)
@reports_errors
def download_command(url: str, destination: Path) -> None:
    """Download a platform-hosted file (as stored: encrypted) to DESTINATION."""
    with open_client() as client, transfer_bar(f"download {url.rsplit('/', 1)[-1]}") as progress:
        size = client.download_file(url, destination, progress=progress)
    click.echo(f"Saved {size} bytes to {destination}.", err=True)
