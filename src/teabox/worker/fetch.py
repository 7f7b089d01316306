"""Move a task's files between their URLs and the worker's staging area.

Inputs are downloaded (``file://``, ``http(s)://``, ``data:`` and the
platform-hosted scheme); outputs are uploaded (``file://``, ``http(s)://`` and
the platform-hosted scheme). Every transfer is bounded in size and time; an
http(s) URL must pass the operator's egress policy
(:mod:`teabox.platform.egress`) both before the request and for the address
connected to; a failure raises :class:`TransferError` with a message that
names the URL (with any credentials, query or inline data left out, because
the message becomes a task's failure reason that every participant reads).

Uploads are two-phase (:class:`PendingUpload`) so that
:mod:`teabox.worker.publish` can publish a task's outputs all together or not
at all.
"""

from __future__ import annotations

import os
import shutil
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO, Protocol, cast
from urllib.parse import unquote, urlsplit

import httpx

from teabox.errors import TeaboxError
from teabox.platform.egress import EgressPolicy, UrlRefused
from teabox.worker.http_client import egress_client
from teabox.worker.pacing import Pace, TransferTooSlow, paced

_CHUNK = 1024 * 1024


class TransferError(TeaboxError):
    """A file could not be downloaded or uploaded; the message names the URL and why."""


@dataclass(frozen=True)
class TransferPolicy:
    """What the administrator allows a worker to read and write, and how much.

    ``allowed_dirs`` are the only directories ``file://`` URLs may name (after
    symbolic links are resolved); with none configured, ``file://`` is refused.
    ``egress`` says which hosts and addresses http(s) URLs may reach.
    ``timeout_seconds`` bounds each step of an HTTP transfer (connecting,
    each read and write); ``pace`` bounds the whole transfer.
    """

    allowed_dirs: tuple[Path, ...] = ()
    max_input_bytes: int = 1024 * 1024 * 1024
    max_output_bytes: int = 1024 * 1024 * 1024
    timeout_seconds: float = 30.0
    egress: EgressPolicy = field(default_factory=EgressPolicy)
    pace: Pace = field(default_factory=Pace)

    def __post_init__(self) -> None:
        object.__setattr__(self, "allowed_dirs", tuple(Path(d).resolve() for d in self.allowed_dirs))


def describe_url(url: str) -> str:
    """The URL as it may appear in a failure reason: no userinfo, query, fragment or inline data."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return "(a URL with a malformed host or port)"
    if parts.scheme == "data":
        return "data:" + parts.path.split(",", 1)[0] + ",…"
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    if port is not None:
        host += f":{port}"
    shown = f"{parts.scheme}://{host}{parts.path}"
    return shown + ("?…" if parts.query else "")


class PendingUpload(Protocol):
    """An output prepared for its destination but not yet visible there.

    ``commit`` makes it visible; ``abort`` drops it if it was never committed;
    ``undo`` withdraws it after a commit, as far as the destination allows.
    """

    url: str

    def commit(self) -> None: ...

    def abort(self) -> None: ...

    def undo(self) -> None: ...


class HostedFiles(Protocol):
    """The platform's own file store, as the worker needs it (see ``teabox.platform``)."""

    scheme: str

    def open_hosted(self, url: str) -> BinaryIO: ...

    def stage_hosted(self, src: Path, url: str, max_bytes: int) -> PendingUpload: ...

    def withdraw_hosted(self, url: str) -> None: ...


@dataclass
class Transfers:
    """Downloads and uploads for one worker process; reuses one HTTP connection pool."""

    policy: TransferPolicy = field(default_factory=TransferPolicy)
    hosted: HostedFiles | None = None
    _http: httpx.Client | None = field(default=None, init=False, repr=False)

    # -- inputs ---------------------------------------------------------------------------

    def download(self, url: str, dst: Path) -> int:
        """Write the file at ``url`` to ``dst``; returns its size in bytes."""
        scheme = _scheme(url)
        try:
            if scheme in ("http", "https"):
                with open(dst, "wb") as out:
                    return self._http_get(url, out)
            with self._open_source(scheme, url) as source:
                return self._save(source, dst, url)
        except OSError as exc:
            raise TransferError(f"cannot read {describe_url(url)}: {exc.strerror or exc}") from exc

    def open_seekable(self, url: str, copy_to: Callable[[], Path]) -> BinaryIO:
        """A seekable reader of the file at ``url``: the file itself where it lies if it is a local file (a
        ``file://`` input, or a platform-hosted file in the data directory's blob folder), else a copy
        downloaded to ``copy_to()``.

        An encrypted input is decrypted from it. Reading a local file in place spares writing the whole
        ciphertext into the staging area and reading it back, and is safe because decryption authenticates
        every byte it reads against the registered cmac: bytes that are not the registered file's fail its
        checks instead of reaching the payload. The input size limit applies either way; a stream is opened only once.
        """
        scheme = _scheme(url)
        if scheme in ("http", "https"):
            copy = copy_to()
            self.download(url, copy)
            return open(copy, "rb")
        try:
            source = self._open_source(scheme, url)
            with ExitStack() as closing:
                closing.callback(source.close)
                if source.seekable():
                    self._check_input_size(source.seek(0, os.SEEK_END), url)
                    source.seek(0)
                    closing.pop_all()
                    return source
                copy = copy_to()
                self._save(source, copy, url)
            return open(copy, "rb")
        except OSError as exc:
            raise TransferError(f"cannot read {describe_url(url)}: {exc.strerror or exc}") from exc

    def _open_source(self, scheme: str, url: str) -> BinaryIO:
        if scheme == "file":
            return open(self._local_path(url, must_exist=True), "rb")
        if scheme == "data":
            return self._open_data(url)
        if self.hosted is not None and scheme == self.hosted.scheme:
            return self.hosted.open_hosted(url)
        raise TransferError(f"{describe_url(url)}: inputs cannot be read from {scheme or 'scheme-less'} URLs")

    def _save(self, src: BinaryIO, dst: Path, url: str) -> int:
        """Copy ``src`` to the file ``dst``, stopping at the input size limit; the bytes copied."""
        total = 0
        with open(dst, "wb") as out:
            while chunk := src.read(_CHUNK):
                total += len(chunk)
                self._check_input_size(total, url)
                out.write(chunk)
        return total

    def _check_input_size(self, size: int, url: str) -> None:
        if size > self.policy.max_input_bytes:
            raise TransferError(
                f"{describe_url(url)} is larger than the {self.policy.max_input_bytes}-byte limit for inputs"
            )

    def _open_data(self, url: str) -> BinaryIO:
        try:
            return cast(BinaryIO, urllib.request.DataHandler().data_open(urllib.request.Request(url)))
        except ValueError as exc:
            raise TransferError(f"{describe_url(url)} is not a valid data: URL ({exc})") from exc

    def _client(self) -> httpx.Client:
        if self._http is None:
            self._http = egress_client(self.policy.egress, self.policy.timeout_seconds)
        return self._http

    def _http_get(self, url: str, out: BinaryIO) -> int:
        with (
            _HttpErrors("GET", url, self.policy.egress),
            paced(self.policy.pace),
            self._client().stream("GET", url) as response,
        ):
            _raise_for_status("GET", url, response)
            declared = response.headers.get("content-length")
            if declared is not None and declared.isdigit():
                self._check_input_size(int(declared), url)
            total = 0
            for chunk in response.iter_bytes(_CHUNK):
                total += len(chunk)
                self._check_input_size(total, url)
                out.write(chunk)
            return total

    # -- outputs --------------------------------------------------------------------------

    def stage_upload(self, src: Path, url: str, *, output_id: str) -> PendingUpload:
        """Prepare ``src`` for ``url`` without making it visible there yet.

        ``output_id`` (the output's file id) names what a ``file://`` staging leaves beside
        the target, so that a later attempt, or the withdrawal of a dead one, finds it.
        """
        size = src.stat().st_size
        if size > self.policy.max_output_bytes:
            raise TransferError(
                f"output for {describe_url(url)} is {size} bytes, over the "
                f"{self.policy.max_output_bytes}-byte limit for outputs"
            )
        scheme = _scheme(url)
        if scheme == "file":
            return _LocalUpload.prepare(src, self._local_path(url, must_exist=False), url, output_id)
        if scheme in ("http", "https"):
            return _HttpUpload(src, url, self)
        if self.hosted is not None and scheme == self.hosted.scheme:
            return self.hosted.stage_hosted(src, url, self.policy.max_output_bytes)
        raise TransferError(f"{describe_url(url)}: outputs cannot be written to {scheme or 'scheme-less'} URLs")

    def withdraw(self, url: str, output_id: str, *, keep_target: bool) -> None:
        """Take back whatever any attempt may have left at ``url`` for output ``output_id``.

        For a task that ended without recording the output, after the attempts that wrote it
        died: a ``file://`` output's hidden part and (unless ``keep_target``) the file itself, an
        ``http(s)://`` output by a ``DELETE`` (unless ``keep_target``), a platform-hosted output's
        link to its bytes. ``keep_target`` is for a URL where another output record's recorded
        output may be. Raises TransferError when the destination refuses.
        """
        scheme = _scheme(url)
        if scheme == "file":
            target = self._local_path(url, must_exist=False)
            hidden_part(target, output_id).unlink(missing_ok=True)
            if not keep_target:
                target.unlink(missing_ok=True)
        elif scheme in ("http", "https"):
            if not keep_target:
                self.http_delete(url)
        elif self.hosted is not None and scheme == self.hosted.scheme:
            self.hosted.withdraw_hosted(url)

    def http_put(self, src: Path, url: str) -> None:
        with _HttpErrors("PUT", url, self.policy.egress), paced(self.policy.pace), open(src, "rb") as body:
            headers = {"content-type": "application/octet-stream", "content-length": str(src.stat().st_size)}
            response = self._client().put(url, content=_chunks(body), headers=headers)
            _raise_for_status("PUT", url, response)

    def http_delete(self, url: str) -> None:
        with _HttpErrors("DELETE", url, self.policy.egress), paced(self.policy.pace):
            _raise_for_status("DELETE", url, self._client().delete(url))

    # -- file:// --------------------------------------------------------------------------

    def _local_path(self, url: str, *, must_exist: bool) -> Path:
        parts = urlsplit(url)
        if parts.netloc not in ("", "localhost"):
            raise TransferError(f"{describe_url(url)}: file:// URLs must name a file on this machine")
        raw = Path(unquote(parts.path))
        if not raw.is_absolute() or "\x00" in str(raw):
            raise TransferError(f"{describe_url(url)}: file:// URLs must hold an absolute path")
        # Resolve symbolic links before checking, so that a link cannot lead outside.
        path = raw.resolve() if must_exist else raw.parent.resolve() / raw.name
        if not any(path.is_relative_to(root) for root in self.policy.allowed_dirs):
            raise TransferError(
                f"{describe_url(url)} is not under a directory the administrator allows for file:// URLs"
            )
        if must_exist and not path.is_file():
            raise TransferError(f"{describe_url(url)} does not exist or is not a regular file")
        if not must_exist and not path.parent.is_dir():
            raise TransferError(f"{describe_url(url)}: the directory {path.parent} does not exist")
        return path

    def close(self) -> None:
        if self._http is not None:
            self._http.close()
            self._http = None


def _scheme(url: str) -> str:
    try:
        return urlsplit(url).scheme.lower()
    except ValueError as exc:
        raise TransferError(f"{describe_url(url)} is malformed: {exc}") from exc


def _chunks(body: BinaryIO) -> Iterator[bytes]:
    while chunk := body.read(_CHUNK):
        yield chunk


def _raise_for_status(method: str, url: str, response: httpx.Response) -> None:
    if response.status_code >= 300:
        answer = f"{method} {describe_url(url)} answered {response.status_code} {response.reason_phrase}".rstrip()
        if response.is_redirect:
            answer += " (redirects are not followed: register the URL the data is at)"
        raise TransferError(answer)


class _HttpErrors:
    """Check the URL against the egress policy, and turn every way an HTTP transfer fails into a
    TransferError naming the method, the URL and the reason."""

    def __init__(self, method: str, url: str, egress: EgressPolicy) -> None:
        self.method, self.url, self.egress = method, url, egress

    def __enter__(self) -> None:
        try:
            self.egress.check_url(self.url)
        except UrlRefused as exc:
            raise self._refused(exc) from exc

    def _refused(self, exc: UrlRefused) -> TransferError:
        return TransferError(
            f"{self.method} {describe_url(self.url)} refused by the egress policy ({exc.rule}): {exc.message}"
        )

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: object) -> None:
        if isinstance(exc, UrlRefused):
            raise self._refused(exc) from exc
        if isinstance(exc, TransferTooSlow):
            raise TransferError(f"{self.method} {describe_url(self.url)} {exc}") from exc
        if isinstance(exc, httpx.TimeoutException):
            raise TransferError(f"{self.method} {describe_url(self.url)} timed out") from exc
        if isinstance(exc, httpx.HTTPError):
            raise TransferError(f"{self.method} {describe_url(self.url)} failed: {exc}") from exc


def hidden_part(target: Path, output_id: str) -> Path:
    """Where a ``file://`` output is staged beside its target: one name per output record, whatever the attempt."""
    return target.with_name(f".{target.name}.{output_id}.part")


class _LocalUpload:
    """An output written next to its destination under a hidden name, renamed on commit."""

    def __init__(self, temporary: Path, target: Path, url: str) -> None:
        self.temporary, self.target, self.url = temporary, target, url
        self.committed = False

    @classmethod
    def prepare(cls, src: Path, target: Path, url: str, output_id: str) -> _LocalUpload:
        temporary = hidden_part(target, output_id)  # overwrites what a killed attempt left
        try:
            shutil.copyfile(src, temporary)
        except OSError as exc:
            temporary.unlink(missing_ok=True)
            raise TransferError(f"cannot write {describe_url(url)}: {exc.strerror or exc}") from exc
        return cls(temporary, target, url)

    def commit(self) -> None:
        try:
            os.replace(self.temporary, self.target)
        except OSError as exc:
            raise TransferError(f"cannot write {describe_url(self.url)}: {exc.strerror or exc}") from exc
        self.committed = True

    def abort(self) -> None:
        self.temporary.unlink(missing_ok=True)

    def undo(self) -> None:
        if self.committed:
            self.target.unlink(missing_ok=True)


class _HttpUpload:
    """An output PUT on commit; undone with a best-effort DELETE."""

    def __init__(self, src: Path, url: str, transfers: Transfers) -> None:
        self.src, self.url, self.transfers = src, url, transfers
        self.committed = False

    def commit(self) -> None:
        self.transfers.http_put(self.src, self.url)
        self.committed = True

    def abort(self) -> None:
        return None

    def undo(self) -> None:
        if self.committed:
            try:
                self.transfers.http_delete(self.url)
            except TransferError:
                pass  # the destination may not support DELETE; the output stays unrecorded
