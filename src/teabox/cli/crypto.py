"""``teabox encrypt``, ``decrypt`` and ``verify``: Teaclave's file commands, locally.

The options are those of ``teaclave_cli encrypt/decrypt`` (``-a``, ``-k``,
``--iv``, ``-i``, ``-o``, ``-c``) so that existing scripts keep working; a file
that fails any check is refused with the file and the check named, and no
output is left behind.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import click

from teabox.cli.platform_progress import transfer_bar
from teabox.formats import AES_GCM_128, AES_GCM_256, TEACLAVE_FILE_128, CryptoInfo, FileCheckError, generate_iv
from teabox.formats import decrypt as decrypt_file
from teabox.formats import encrypt as encrypt_file
from teabox.formats import verify as verify_file

ALGORITHMS = [AES_GCM_128, AES_GCM_256, TEACLAVE_FILE_128]
# Below this a file takes well under a second; a bar would only flicker.
PROGRESS_THRESHOLD = 64 * 2**20

_input = click.option(
    "-i", "--input-file", "source", required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path)
)
_output = click.option(
    "-o", "--output-file", "destination", required=True, type=click.Path(dir_okay=False, path_type=Path)
)
_algorithm = click.option("-a", "--algorithm", required=True, type=click.Choice(ALGORITHMS))
_key = click.option("-k", "--key", required=True, metavar="HEX", help="The owner's key in hex (16 or 32 bytes).")
_iv = click.option(
    "--iv",
    metavar="HEX",
    help="AES-GCM only: the 12-byte IV in hex. encrypt makes a fresh one if omitted; "
    "never encrypt two different files with the same key and IV.",
)
_name = click.option(
    "--name",
    help="teaclave-file-128 only: the file name bound into the file "
    "(default: the encrypted file's basename; it must be the basename the file is opened under).",
)
_print_cmac = click.option("-c", "--print-cmac", is_flag=True, help="Print the file's cmac (its tag) in hex.")


def _crypto(algorithm: str, key: str, iv: str | None) -> CryptoInfo:
    if algorithm != TEACLAVE_FILE_128 and iv is None:
        raise click.UsageError(f"--iv is required to read {algorithm} files")
    try:
        return CryptoInfo.from_hex(algorithm, key, iv or "")
    except FileCheckError as exc:
        raise click.BadParameter(str(exc), param_hint="--key/--iv") from None


@contextmanager
def _progress(source: Path, description: str) -> Iterator[Callable[[int], None] | None]:
    """A bar on stderr for files large enough to take a while, else nothing."""
    total = source.stat().st_size
    if total < PROGRESS_THRESHOLD:
        yield None
        return
    with transfer_bar(description) as update:
        done = 0

        def advance(n: int) -> None:
            nonlocal done
            done += n
            update(done, total)

        yield advance


@contextmanager
def _refusals() -> Iterator[None]:
    """Turn a failed check into a one-line error and exit status 1."""
    try:
        yield
    except FileCheckError as exc:
        raise click.ClickException(str(exc)) from None


@click.command("encrypt")
@_algorithm
@_key
@_iv
@_input
@_output
@_print_cmac
@_name
def encrypt_command(
    algorithm: str, key: str, iv: str | None, source: Path, destination: Path, print_cmac: bool, name: str | None
) -> None:
    """Encrypt a file for Teaclave or teabox.

    Without --iv, AES-GCM gets a fresh random IV (printed on stderr): a
    (key, IV) pair must never encrypt two different files.
    """
    generated = algorithm != TEACLAVE_FILE_128 and iv is None
    crypto = _crypto(algorithm, key, generate_iv(algorithm).hex() if generated else iv)
    if generated:
        click.echo(f"generated IV {crypto.iv.hex()}: register it with the file, it is needed to decrypt", err=True)
    with _refusals(), _progress(source, f"encrypting {source.name}") as progress:
        cmac = encrypt_file(crypto, source, destination, name=name, progress=progress)
    if print_cmac:
        click.echo(cmac.hex())


@click.command("decrypt")
@_algorithm
@_key
@_iv
@_input
@_output
@_print_cmac
@_name
@click.option("--cmac", metavar="HEX", help="The registered cmac: refuse the file unless its tag equals it.")
def decrypt_command(
    algorithm: str,
    key: str,
    iv: str | None,
    source: Path,
    destination: Path,
    print_cmac: bool,
    name: str | None,
    cmac: str | None,
) -> None:
    """Check a file completely, then decrypt it.

    The plaintext appears at the output path only after every check passed.
    """
    crypto = _crypto(algorithm, key, iv)
    with _refusals(), _progress(source, f"decrypting {source.name}") as progress:
        tag = decrypt_file(crypto, source, destination, name=name, expected_cmac=cmac, progress=progress)
    if print_cmac and tag is not None:
        click.echo(tag.hex())


@click.command("verify")
@_algorithm
@_key
@_iv
@_input
@_name
@click.option("--cmac", metavar="HEX", help="The registered cmac the file's tag must equal.")
@_print_cmac
def verify_command(
    algorithm: str, key: str, iv: str | None, source: Path, name: str | None, cmac: str | None, print_cmac: bool
) -> None:
    """Check a file's integrity (and its cmac) without writing any plaintext."""
    crypto = _crypto(algorithm, key, iv)
    with _refusals(), _progress(source, f"verifying {source.name}") as progress:
        tag = verify_file(crypto, source, name=name, cmac=cmac, progress=progress)
    assert tag is not None  # the CLI offers no raw algorithm
    if print_cmac:
        click.echo(tag.hex())
    else:
        checked = "its tag and the registered cmac" if cmac else "its tag"
        click.echo(f"{os.fspath(source)}: OK ({checked} verified, cmac {tag.hex()})")
