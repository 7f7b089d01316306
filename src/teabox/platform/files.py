"""Registered input and output files, fusion outputs, and platform-hosted files.

Fixes over Teaclave: an output record is write-once (the platform refuses to
bind one that already holds a cmac, see :mod:`teabox.platform.tasks`); URLs
are checked at registration (``file://`` only under directories the operator
allows, http(s) only to hosts the egress policy allows, see
:mod:`teabox.platform.egress`; a malformed URL is a 400 naming ``url``); a
``teabox://`` URL can be registered only by the user who uploaded or reserved
it, so registering a URL never grants access to someone else's file; keys are
never returned, and the database holds them only sealed under the platform key
(:mod:`teabox.platform.file_keys`); a ``file://`` path belongs to the first
user who registered it; a fusion output names co-owners only with their
consent (each accepts it before it can be bound to a task).
"""

from __future__ import annotations

import secrets
import uuid
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from sqlalchemy import exists, select, update

from teabox.formats.api import CMAC_SIZE
from teabox.formats.bound_names import bound_name
from teabox.formats.errors import FormatError
from teabox.platform.context import Ctx, new_id, operation
from teabox.platform.egress import UrlRefused
from teabox.platform.errors import Invalid, MalformedRequest, NoSuchObject, NotPermitted, StateConflict
from teabox.platform.hosted import check_file_name, hosted_url, is_hosted, parse_hosted_url
from teabox.platform.models import DataFile, FileOwner, HostedFile, LocalPath, TaskData
from teabox.platform.users import unknown_users

# schema -> (key length, IV length); None means "must be empty".
SCHEMAS: dict[str, tuple[int, int]] = {
    "aes-gcm-128": (16, 12),
    "aes-gcm-256": (32, 12),
    "teaclave-file-128": (16, 0),
    "raw": (0, 0),
}
MAX_URL = 8192


def check_crypto(schema: str, key: bytes, iv: bytes) -> None:
    if schema not in SCHEMAS:
        raise Invalid(f"'{schema}' is not a file schema; use one of {', '.join(SCHEMAS)}", "invalid_crypto")
    key_length, iv_length = SCHEMAS[schema]
    if len(key) != key_length:
        raise Invalid(f"a {schema} key must be {key_length} bytes, not {len(key)}", "invalid_crypto")
    if len(iv) != iv_length:
        raise Invalid(f"a {schema} IV must be {iv_length} bytes, not {len(iv)}", "invalid_crypto")


def owners_of(ctx: Ctx, file_id: str) -> set[str]:
    return set(ctx.session.scalars(select(FileOwner.user_id).where(FileOwner.file_id == file_id)))


def pending_consent(ctx: Ctx, file_id: str) -> list[str]:
    """The owners of ``file_id`` who have not yet accepted it (only fusion outputs have any)."""
    return list(
        ctx.session.scalars(
            select(FileOwner.user_id)
            .where(FileOwner.file_id == file_id, FileOwner.consented.is_(False))
            .order_by(FileOwner.user_id)
        )
    )


def get_file_row(ctx: Ctx, data_id: str, kind: str) -> DataFile:
    record = ctx.session.get(DataFile, data_id)
    if record is None or record.kind != kind:
        raise NoSuchObject(f"there is no {kind} file '{data_id}'", "unknown_file")
    return record


def _owned_file(ctx: Ctx, data_id: str, kind: str) -> tuple[DataFile, set[str]]:
    ctx.object_id = data_id
    record = get_file_row(ctx, data_id, kind)
    owners = owners_of(ctx, data_id)
    if ctx.user.user_id not in owners:
        raise NotPermitted(f"you are not an owner of {data_id}")
    return record, owners


def _bad_url(message: str, code: str = "invalid_url") -> MalformedRequest:
    return MalformedRequest(f"url: {message}", code)


def _check_url(ctx: Ctx, url: str, kind: str) -> None:
    """Refuse a URL this kind of file cannot use, naming the reason; a worker checks it again."""
    if len(url) > MAX_URL:
        raise _bad_url(f"the URL is longer than {MAX_URL} characters")
    if any(ord(character) < 0x20 or ord(character) == 0x7F for character in url):
        raise _bad_url("the URL contains a control character (CR, LF, NUL, ...); percent-encode it")
    try:
        parts = urlsplit(url)
    except ValueError as exc:
        raise _bad_url(f"the URL's host is malformed ({exc})") from exc
    scheme = parts.scheme.lower()
    if scheme in ("http", "https"):
        try:
            ctx.settings.egress.check_url(url)
        except UrlRefused as exc:
            raise _bad_url(exc.message, exc.code) from exc
    elif scheme == "file":
        _check_local(ctx, url, parts.netloc, unquote(parts.path))
    elif scheme == "data":
        if kind == "output":
            raise _bad_url("an output cannot be written to a data: URL")
        if "," not in parts.path:
            raise _bad_url("a data: URL needs a ',' before its data")
    elif is_hosted(url):
        _check_hosted(ctx, url, kind)
    else:
        raise _bad_url(
            f"unsupported URL scheme '{scheme or '(none)'}': use file://, http://, https://, data: or teabox://"
        )
    try:
        bound_name(url)
    except FormatError as exc:
        raise _bad_url(exc.detail) from exc


def _check_local(ctx: Ctx, url: str, netloc: str, path: str) -> None:
    if netloc not in ("", "localhost") or not path.startswith("/") or "\x00" in path:
        raise _bad_url(f"'{url}' is not a file:// URL with an absolute local path")
    resolved = Path(path).parent.resolve() / Path(path).name
    if not any(resolved.is_relative_to(root) for root in ctx.settings.allowed_file_dirs):
        raise NotPermitted(
            f"'{url}' is not under a directory the operator allows for file:// URLs (teabox serve --allow-file-dir)",
            "file_url_not_allowed",
        )
    _claim_local(ctx, url, resolved.resolve())


def _claim_local(ctx: Ctx, url: str, path: Path) -> None:
    """Give ``path`` to the caller if nobody has it; refuse it if someone else registered it first.

    The key is the fully resolved path, so another spelling (``..``, a symlinked directory or file,
    ``localhost``) is the same path.
    """
    claim = ctx.session.get(LocalPath, str(path))
    if claim is None:
        ctx.session.add(LocalPath(path=str(path), user_id=ctx.user.user_id, created_at=ctx.now))
    elif claim.user_id != ctx.user.user_id:
        raise NotPermitted(f"'{url}' names a path another user registered first; use a path of your own", "path_taken")


def _check_hosted(ctx: Ctx, url: str, kind: str) -> None:
    try:
        parsed = parse_hosted_url(url)
    except Invalid as exc:
        raise _bad_url(exc.message, exc.code) from exc
    hosted = ctx.session.get(HostedFile, parsed.file_id)
    if hosted is None or hosted.name != parsed.name:
        raise NoSuchObject(f"there is no platform file {url}", "unknown_file")
    if hosted.uploader != ctx.user.user_id:
        raise NotPermitted(f"only the user who uploaded or reserved {url} may register it")
    if kind == "output":
        if hosted.uploaded:
            raise StateConflict(
                f"{url} holds uploaded data; reserve a file for a task to write with reserve_file", "invalid_url"
            )
        taken = ctx.session.scalar(select(exists().where(DataFile.url == url, DataFile.kind == "output")))
        if taken:
            raise StateConflict(f"{url} is already registered as an output; reserve another file", "already_exists")


def _add_file(
    ctx: Ctx,
    kind: str,
    url: str,
    schema: str,
    key: bytes,
    iv: bytes,
    cmac: bytes | None,
    owners: set[str],
    *,
    fusion: bool = False,
    file_id: str | None = None,
) -> str:
    file_id = file_id or new_id(kind)
    record = DataFile(
        id=file_id,
        kind=kind,
        url=url,
        schema=schema,
        sealed_key=ctx.file_keys.seal(file_id, key, iv),
        cmac=cmac,
        fusion=fusion,
        created_at=ctx.now,
    )
    ctx.session.add(record)
    ctx.session.flush()
    ctx.session.add_all(FileOwner(file_id=record.id, user_id=owner) for owner in sorted(owners))
    ctx.object_id = record.id
    return record.id


@operation("register_input_file")
def register_input_file(
    ctx: Ctx, *, url: str, schema: str, key: bytes, iv: bytes, cmac: bytes | None
) -> dict[str, Any]:
    check_crypto(schema, key, iv)
    if schema != "raw" and (cmac is None or len(cmac) != CMAC_SIZE):
        raise Invalid(f"an input's cmac must be {CMAC_SIZE} bytes", "invalid_crypto")
    if schema == "raw" and cmac:
        raise Invalid("a raw input has no cmac; leave it empty", "invalid_crypto")
    _check_url(ctx, url, "input")
    return {"data_id": _add_file(ctx, "input", url, schema, key, iv, cmac or None, {ctx.user.user_id})}


@operation("register_output_file")
def register_output_file(ctx: Ctx, *, url: str, schema: str, key: bytes, iv: bytes) -> dict[str, Any]:
    check_crypto(schema, key, iv)
    _check_url(ctx, url, "output")
    if schema == "raw":  # a task could only fail on it: outputs are always encrypted and tagged
        raise Invalid("an output cannot be raw; use aes-gcm-128, aes-gcm-256 or teaclave-file-128", "invalid_crypto")
    return {"data_id": _add_file(ctx, "output", url, schema, key, iv, None, {ctx.user.user_id})}


def _key_of(ctx: Ctx, record: DataFile) -> tuple[bytes, bytes]:
    """The (key, IV) of ``record``, unsealed to be sealed again for a record that shares it."""
    return ctx.file_keys.open(record.id, record.sealed_key)


def _sole_owner(ctx: Ctx, data_id: str, kind: str) -> DataFile:
    record, owners = _owned_file(ctx, data_id, kind)
    if owners != {ctx.user.user_id}:
        raise NotPermitted(f"{data_id} has several owners; only a file with you as its sole owner can be updated")
    return record


@operation("update_input_file")
def update_input_file(ctx: Ctx, *, data_id: str, url: str) -> dict[str, Any]:
    old = _sole_owner(ctx, data_id, "input")
    _check_url(ctx, url, "input")
    new = _add_file(ctx, "input", url, old.schema, *_key_of(ctx, old), old.cmac, {ctx.user.user_id})
    ctx.note = f"replaces {data_id}"
    return {"data_id": new}


def refuse_spent_output(record: DataFile) -> None:
    """Refuse an output whose (key, IV) may already have encrypted a plaintext, or that was moved away.

    AES-GCM under one (key, IV) pair must encrypt one plaintext only: a second
    ciphertext of a different plaintext gives away both (C1 xor C2 = P1 xor P2).
    """
    if record.cmac is not None:
        raise StateConflict(
            f"{record.id} has already been written by a task; outputs are write-once", "output_already_written"
        )
    if record.write_task is not None:
        raise StateConflict(
            f"a write of task {record.write_task} to {record.id} began, so its key and IV may already have "
            "encrypted data; register a new output file with a fresh IV",
            "output_key_used",
        )
    if record.replaced_by is not None:
        raise StateConflict(f"{record.id} was replaced by {record.replaced_by} (update_output_file)", "output_replaced")


@operation("update_output_file")
def update_output_file(ctx: Ctx, *, data_id: str, url: str) -> dict[str, Any]:
    """Move an unused output to another URL: the new record takes its (key, IV), the old one retires."""
    old = _sole_owner(ctx, data_id, "output")
    refuse_spent_output(old)
    assigned = ctx.session.scalar(select(TaskData.task_id).where(TaskData.file_id == data_id).limit(1))
    if assigned is not None:
        raise StateConflict(
            f"{data_id} is assigned to task {assigned}; register a new output file rather than moving it",
            "output_already_assigned",
        )
    _check_url(ctx, url, "output")
    new = _add_file(ctx, "output", url, old.schema, *_key_of(ctx, old), None, {ctx.user.user_id})
    old.replaced_by = new
    ctx.note = f"replaces {data_id}"
    return {"data_id": new}


@operation("register_fusion_output")
def register_fusion_output(ctx: Ctx, *, owner_list: list[str]) -> dict[str, Any]:
    owners = set(owner_list)
    if len(owners) < 2 or ctx.user.user_id not in owners:
        raise Invalid("a fusion output needs at least two owners, including you", "invalid_ownership")
    unknown = unknown_users(ctx, owners)
    if unknown:
        raise Invalid(f"unknown owners: {', '.join(unknown)}", "invalid_ownership")
    # A platform-hosted file under a random key nobody learns: it can only feed a later task.
    file_id = uuid.uuid4().hex
    name = f"{file_id}.fusion"
    ctx.session.add(
        HostedFile(
            id=file_id, name=name, uploader=ctx.user.user_id, uploaded=False, sha256=None, size=0, created_at=ctx.now
        )
    )
    data_id = _add_file(
        ctx,
        "output",
        hosted_url(file_id, name),
        "teaclave-file-128",
        secrets.token_bytes(16),
        b"",
        None,
        owners,
        fusion=True,
    )
    # The other owners are named, not yet agreed: each accepts with accept_fusion_output.
    ctx.session.execute(
        update(FileOwner)
        .where(FileOwner.file_id == data_id, FileOwner.user_id != ctx.user.user_id)
        .values(consented=False)
    )
    ctx.note = "awaiting " + ", ".join(sorted(owners - {ctx.user.user_id}))
    return {"data_id": data_id}


@operation("accept_fusion_output")
def accept_fusion_output(ctx: Ctx, *, data_id: str) -> dict[str, Any]:
    """The caller, named as a co-owner of a fusion output, agrees to own it."""
    _owned_file(ctx, data_id, "output")
    ctx.session.execute(
        update(FileOwner)
        .where(FileOwner.file_id == data_id, FileOwner.user_id == ctx.user.user_id)
        .values(consented=True)
    )
    return {"pending_owners": pending_consent(ctx, data_id)}


@operation("register_input_from_output")
def register_input_from_output(ctx: Ctx, *, data_id: str) -> dict[str, Any]:
    output, owners = _owned_file(ctx, data_id, "output")
    if output.cmac is None:
        raise StateConflict(f"{data_id} has not been written by a task yet", "file_not_written")
    input_id = "input-" + data_id.split("-", 1)[1]
    if ctx.session.get(DataFile, input_id) is not None:
        return {"data_id": input_id}
    return {
        "data_id": _add_file(
            ctx,
            "input",
            output.url,
            output.schema,
            *_key_of(ctx, output),
            output.cmac,
            owners,
            fusion=output.fusion,
            file_id=input_id,
        )
    }


def file_view(ctx: Ctx, record: DataFile) -> dict[str, Any]:
    return {
        "data_id": record.id,
        "url": record.url,
        "schema": record.schema,
        "cmac": record.cmac.hex() if record.cmac is not None else None,
        "owner": sorted(owners_of(ctx, record.id)),
        "pending_owners": pending_consent(ctx, record.id),
    }


@operation("get_input_file")
def get_input_file(ctx: Ctx, *, data_id: str) -> dict[str, Any]:
    return file_view(ctx, _owned_file(ctx, data_id, "input")[0])


@operation("get_output_file")
def get_output_file(ctx: Ctx, *, data_id: str) -> dict[str, Any]:
    return file_view(ctx, _owned_file(ctx, data_id, "output")[0])


@operation("list_files")
def list_files(ctx: Ctx) -> dict[str, Any]:
    """The caller's own registered inputs and outputs, newest first (what the console's file page lists)."""
    owned = (
        select(DataFile)
        .join(FileOwner, FileOwner.file_id == DataFile.id)
        .where(FileOwner.user_id == ctx.user.user_id)
        .order_by(DataFile.created_at.desc(), DataFile.id)
    )
    records = ctx.session.scalars(owned).all()
    return {
        "inputs": [file_view(ctx, record) for record in records if record.kind == "input"],
        "outputs": [file_view(ctx, record) for record in records if record.kind == "output"],
    }


# -- platform-hosted files -------------------------------------------------------------------


@operation("upload_file")
def upload_file(ctx: Ctx, *, name: str, sha256: str, size: int) -> dict[str, Any]:
    """Record an upload the service has streamed into the blob store."""
    check_file_name(name)
    file_id = uuid.uuid4().hex
    ctx.session.add(
        HostedFile(
            id=file_id,
            name=name,
            uploader=ctx.user.user_id,
            uploaded=True,
            sha256=sha256,
            size=size,
            created_at=ctx.now,
        )
    )
    url = hosted_url(file_id, name)
    ctx.object_id = url
    return {"url": url, "file_id": file_id, "size": size, "sha256": sha256}


@operation("reserve_file")
def reserve_file(ctx: Ctx, *, name: str) -> dict[str, Any]:
    check_file_name(name)
    file_id = uuid.uuid4().hex
    ctx.session.add(
        HostedFile(
            id=file_id, name=name, uploader=ctx.user.user_id, uploaded=False, sha256=None, size=0, created_at=ctx.now
        )
    )
    url = hosted_url(file_id, name)
    ctx.object_id = url
    return {"url": url, "file_id": file_id}


@operation("download_file")
def download_file(ctx: Ctx, *, url: str) -> dict[str, Any]:
    """Check that the caller may read ``url``; the service then streams the blob named in the answer."""
    ctx.object_id = url
    parsed = parse_hosted_url(url)
    hosted = ctx.session.get(HostedFile, parsed.file_id)
    if hosted is None or hosted.name != parsed.name:
        raise NoSuchObject(f"there is no platform file {url}", "unknown_file")
    me = ctx.user.user_id
    owns_record = ctx.session.scalar(
        select(exists().where(DataFile.url == url, FileOwner.file_id == DataFile.id, FileOwner.user_id == me))
    )
    if hosted.uploader != me and not owns_record:
        raise NotPermitted(f"you neither uploaded {url} nor own a file registered with it")
    recorded = hosted.uploaded or ctx.session.scalar(
        select(exists().where(DataFile.url == url, DataFile.kind == "output", DataFile.cmac.is_not(None)))
    )
    if hosted.sha256 is None or not recorded:
        raise StateConflict(f"{url} has not been written yet", "file_not_written")
    return {"sha256": hosted.sha256, "size": hosted.size, "name": hosted.name}
