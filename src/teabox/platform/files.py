"""Registered input and output files, fusion outputs, and platform-hosted files.

Fixes over Teaclave: an output record is write-once (the platform refuses to
bind one that already holds a cmac, see :mod:`teabox.platform.tasks`); URLs
are checked at registration (``file://`` only under directories the operator
allows); a ``teabox://`` URL can be registered only by the user who uploaded
or reserved it, so registering a URL never grants access to someone else's
file; keys are never returned.
"""

from __future__ import annotations

import secrets
import uuid
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from sqlalchemy import exists, select

from teabox.platform.context import Ctx, new_id, operation
from teabox.platform.errors import Conflict, Forbidden, Invalid, NotFound
from teabox.platform.hosted import check_file_name, hosted_url, is_hosted, parse_hosted_url
from teabox.platform.models import DataFile, FileOwner, HostedFile, User

# schema -> (key length, IV length); None means "must be empty".
SCHEMAS: dict[str, tuple[int, int]] = {
    "aes-gcm-128": (16, 12),
    "aes-gcm-256": (32, 12),
    "teaclave-file-128": (16, 0),
    "raw": (0, 0),
}
CMAC_BYTES = 16
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


def get_file_row(ctx: Ctx, data_id: str, kind: str) -> DataFile:
    record = ctx.session.get(DataFile, data_id)
    if record is None or record.kind != kind:
        raise NotFound(f"there is no {kind} file '{data_id}'", "unknown_file")
    return record


def _owned_file(ctx: Ctx, data_id: str, kind: str) -> tuple[DataFile, set[str]]:
    ctx.object_id = data_id
    record = get_file_row(ctx, data_id, kind)
    owners = owners_of(ctx, data_id)
    if ctx.user.user_id not in owners:
        raise Forbidden(f"you are not an owner of {data_id}")
    return record, owners


def _check_url(ctx: Ctx, url: str, kind: str) -> None:
    """Refuse a URL this kind of file cannot use, naming the reason."""
    if len(url) > MAX_URL:
        raise Invalid(f"the URL is longer than {MAX_URL} characters", "invalid_url")
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme in ("http", "https"):
        if not parts.hostname:
            raise Invalid(f"'{url}' names no host", "invalid_url")
    elif scheme == "file":
        _check_local(ctx, url, parts.netloc, unquote(parts.path))
    elif scheme == "data":
        if kind == "output":
            raise Invalid("an output cannot be written to a data: URL", "invalid_url")
        if "," not in parts.path:
            raise Invalid("a data: URL needs a ',' before its data", "invalid_url")
    elif is_hosted(url):
        _check_hosted(ctx, url, kind)
    else:
        raise Invalid(
            f"unsupported URL scheme '{scheme or '(none)'}': use file://, http://, https://, data: or teabox://",
            "invalid_url",
        )


def _check_local(ctx: Ctx, url: str, netloc: str, path: str) -> None:
    if netloc not in ("", "localhost") or not path.startswith("/") or "\x00" in path:
        raise Invalid(f"'{url}' is not a file:// URL with an absolute local path", "invalid_url")
    resolved = Path(path).parent.resolve() / Path(path).name
    if not any(resolved.is_relative_to(root) for root in ctx.settings.allowed_file_dirs):
        raise Forbidden(
            f"'{url}' is not under a directory the operator allows for file:// URLs (teabox serve --allow-file-dir)",
            "file_url_not_allowed",
        )


def _check_hosted(ctx: Ctx, url: str, kind: str) -> None:
    parsed = parse_hosted_url(url)
    hosted = ctx.session.get(HostedFile, parsed.file_id)
    if hosted is None or hosted.name != parsed.name:
        raise NotFound(f"there is no platform file {url}", "unknown_file")
    if hosted.uploader != ctx.user.user_id:
        raise Forbidden(f"only the user who uploaded or reserved {url} may register it")
    if kind == "output":
        if hosted.uploaded:
            raise Conflict(
                f"{url} holds uploaded data; reserve a file for a task to write with reserve_file", "invalid_url"
            )
        taken = ctx.session.scalar(select(exists().where(DataFile.url == url, DataFile.kind == "output")))
        if taken:
            raise Conflict(f"{url} is already registered as an output; reserve another file", "already_exists")


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
    record = DataFile(
        id=file_id or new_id(kind),
        kind=kind,
        url=url,
        schema=schema,
        key=key,
        iv=iv,
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
    if schema != "raw" and (cmac is None or len(cmac) != CMAC_BYTES):
        raise Invalid(f"an input's cmac must be {CMAC_BYTES} bytes", "invalid_crypto")
    if schema == "raw" and cmac:
        raise Invalid("a raw input has no cmac; leave it empty", "invalid_crypto")
    _check_url(ctx, url, "input")
    return {"data_id": _add_file(ctx, "input", url, schema, key, iv, cmac or None, {ctx.user.user_id})}


@operation("register_output_file")
def register_output_file(ctx: Ctx, *, url: str, schema: str, key: bytes, iv: bytes) -> dict[str, Any]:
    check_crypto(schema, key, iv)
    _check_url(ctx, url, "output")
    return {"data_id": _add_file(ctx, "output", url, schema, key, iv, None, {ctx.user.user_id})}


def _sole_owner(ctx: Ctx, data_id: str, kind: str) -> DataFile:
    record, owners = _owned_file(ctx, data_id, kind)
    if owners != {ctx.user.user_id}:
        raise Forbidden(f"{data_id} has several owners; only a file with you as its sole owner can be updated")
    return record


@operation("update_input_file")
def update_input_file(ctx: Ctx, *, data_id: str, url: str) -> dict[str, Any]:
    old = _sole_owner(ctx, data_id, "input")
    _check_url(ctx, url, "input")
    new = _add_file(ctx, "input", url, old.schema, old.key, old.iv, old.cmac, {ctx.user.user_id})
    ctx.note = f"replaces {data_id}"
    return {"data_id": new}


@operation("update_output_file")
def update_output_file(ctx: Ctx, *, data_id: str, url: str) -> dict[str, Any]:
    old = _sole_owner(ctx, data_id, "output")
    _check_url(ctx, url, "output")
    new = _add_file(ctx, "output", url, old.schema, old.key, old.iv, None, {ctx.user.user_id})
    ctx.note = f"replaces {data_id}"
    return {"data_id": new}


@operation("register_fusion_output")
def register_fusion_output(ctx: Ctx, *, owner_list: list[str]) -> dict[str, Any]:
    owners = set(owner_list)
    if len(owners) < 2 or ctx.user.user_id not in owners:
        raise Invalid("a fusion output needs at least two owners, including you", "invalid_ownership")
    known = set(ctx.session.scalars(select(User.id).where(User.id.in_(owners))))
    if owners - known:
        raise Invalid(f"unknown owners: {', '.join(sorted(owners - known))}", "invalid_ownership")
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
    return {"data_id": data_id}


@operation("register_input_from_output")
def register_input_from_output(ctx: Ctx, *, data_id: str) -> dict[str, Any]:
    output, owners = _owned_file(ctx, data_id, "output")
    if output.cmac is None:
        raise Conflict(f"{data_id} has not been written by a task yet", "file_not_written")
    input_id = "input-" + data_id.split("-", 1)[1]
    if ctx.session.get(DataFile, input_id) is not None:
        return {"data_id": input_id}
    return {
        "data_id": _add_file(
            ctx,
            "input",
            output.url,
            output.schema,
            output.key,
            output.iv,
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
        raise NotFound(f"there is no platform file {url}", "unknown_file")
    me = ctx.user.user_id
    owns_record = ctx.session.scalar(
        select(exists().where(DataFile.url == url, FileOwner.file_id == DataFile.id, FileOwner.user_id == me))
    )
    if hosted.uploader != me and not owns_record:
        raise Forbidden(f"you neither uploaded {url} nor own a file registered with it")
    recorded = hosted.uploaded or ctx.session.scalar(
        select(exists().where(DataFile.url == url, DataFile.kind == "output", DataFile.cmac.is_not(None)))
    )
    if hosted.sha256 is None or not recorded:
        raise Conflict(f"{url} has not been written yet", "file_not_written")
    return {"sha256": hosted.sha256, "size": hosted.size, "name": hosted.name}
