"""The worker's platform over HTTP: a worker on another machine, holding a worker token and nothing else.

``teabox worker --url https://api.example --token-file FILE`` runs the usual
worker loop over :class:`RemotePlatform`, which speaks the API servers'
worker protocol (:mod:`teabox.service.worker_api`): claim (a bounded
long-poll), heartbeat, begin_writes, finish, the payload of the task it
holds, and the streams of that task's platform-hosted files. The worker never
sees the database, the platform key or the blob store's credentials; the
keys of a task's files arrive with its claim, as they do for a worker beside
the database.

The API servers may restart, or be several behind one URL: every call is
answered from the database, so a call that could not reach a server (or met
a 502, 503 or 504) is sent again with growing pauses, within a budget per
kind of call. Sending one again is safe: heartbeats and begin_writes repeat
harmlessly, a hosted output's upload links the same bytes again, and a
finish whose first answer was lost is answered "recorded" again. A claim is
not repeated within one call (an answer lost on the way would hold a second
task); the loop claims again after a pause, and a claim whose answer was
lost is recovered like a lost worker's when its lease runs out.
"""

from __future__ import annotations

import functools
import io
import logging
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, BinaryIO, TypeVar

import httpx
from pydantic import BaseModel

from teabox.errors import TeaboxError
from teabox.platform.hosted import SCHEME
from teabox.platform.queue import ActiveRun
from teabox.platform.staged import Outcome, StagedTask
from teabox.service.worker_schemas import Claim, Claimed, Finish, Held, Identity, Recorded, Run, WritesBegun
from teabox.worker.fetch import HostedFiles
from teabox.worker.settings import RemoteEndpoint

log = logging.getLogger(__name__)

# How long one claim waits on the server for a task to be staged: also how long a stop request may
# wait for an idle worker (a waiting request cannot be interrupted).
LONG_POLL_SECONDS = 5.0
# How long a call keeps trying to reach a server, by kind: a heartbeat is sent again soon anyway.
_BUDGET_SECONDS = {"heartbeat": 0.0, "data": 60.0, "finish": 120.0}
_RETRY_STATUSES = frozenset({502, 503, 504})
_FIRST_PAUSE, _MAX_PAUSE = 0.1, 2.0
_CHUNK = 1024 * 1024
_TIMEOUT = httpx.Timeout(30.0)

Answer = TypeVar("Answer", bound=BaseModel)


class PlatformUnreachable(TeaboxError):
    """No API server answered within the call's budget; the message names the URL and the last problem."""


class PlatformRefused(TeaboxError):
    """The API server refused a worker call; ``status`` and ``code`` are its answer's."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(f"{message} ({status} {code})")
        self.status, self.code = status, code


class RemotePlatform:
    """:class:`teabox.worker.interface.WorkerPlatform` over the worker endpoints at ``endpoint.url``."""

    def __init__(self, endpoint: RemoteEndpoint, *, long_poll_seconds: float = LONG_POLL_SECONDS) -> None:
        self.url = endpoint.url.rstrip("/")
        self.long_poll_seconds = long_poll_seconds
        self._http = httpx.Client(
            base_url=self.url + "/api/v1/worker/",
            headers={"authorization": f"Bearer {endpoint.token}"},
            timeout=_TIMEOUT,
            follow_redirects=False,
        )
        self.hosted: HostedFiles = RemoteHostedFiles(self)
        self.current: ActiveRun | None = None

    # -- the protocol -----------------------------------------------------------------------

    def claim(self, worker_id: str, lease_seconds: float, max_running_per_user: int | None) -> StagedTask | None:
        """The per-user cap is the API servers' (``teabox serve --max-running-per-user``), not the worker's."""
        body = Claim(worker=worker_id, lease_seconds=lease_seconds, wait=self.long_poll_seconds)
        timeout = httpx.Timeout(_TIMEOUT.read, read=self.long_poll_seconds + (_TIMEOUT.read or 30.0))
        return self._post("claim", body, Claimed, budget=0.0, timeout=timeout).task

    def heartbeat(self, run: ActiveRun) -> bool:
        return self._post("heartbeat", _run(run), Held, budget=_BUDGET_SECONDS["heartbeat"]).held

    def begin_writes(self, run: ActiveRun) -> str | None:
        return self._post("begin_writes", _run(run), WritesBegun, budget=_BUDGET_SECONDS["data"]).refused

    def finish(self, run: ActiveRun, outcome: Outcome) -> bool:
        body = Finish(worker=run.worker_id, task_id=run.task_id, attempt=run.attempt, outcome=outcome)
        return self._post("finish", body, Recorded, budget=_BUDGET_SECONDS["finish"]).recorded

    def payload(self, task: StagedTask) -> bytes:
        run = self.current if self.current is not None and self.current.task_id == task.task_id else None
        if run is None:
            raise PlatformRefused(403, "not_holder", f"this worker does not hold task {task.task_id}")
        request = functools.partial(self._http.build_request, "GET", "payload", params=_query(run))
        response = self._send(request, budget=_BUDGET_SECONDS["data"])
        return response.content

    @contextmanager
    def holding(self, run: ActiveRun) -> Iterator[None]:
        self.current = run
        try:
            yield
        finally:
            self.current = None

    def identity(self) -> Identity:
        """The worker token's id and name, as the API servers know it: a check of the URL and the token."""
        response = self._send(functools.partial(self._http.build_request, "GET", "whoami"), budget=0.0)
        return Identity.model_validate_json(response.content)

    def wake(self) -> None:
        """Nothing to do: a waiting claim ends by itself within ``long_poll_seconds``."""

    def close(self) -> None:
        self._http.close()

    # -- HTTP -------------------------------------------------------------------------------

    def _post(
        self, name: str, body: BaseModel, answer: type[Answer], *, budget: float, timeout: httpx.Timeout | None = None
    ) -> Answer:
        content = body.model_dump_json().encode()
        headers = {"content-type": "application/json"}
        extensions = {"timeout": (timeout or _TIMEOUT).as_dict()}
        request = functools.partial(
            self._http.build_request, "POST", name, content=content, headers=headers, extensions=extensions
        )
        response = self._send(request, budget=budget)
        return answer.model_validate_json(response.content)

    def _send(self, build: Callable[[], httpx.Request], *, budget: float, stream: bool = False) -> httpx.Response:
        """Send the request ``build`` makes, again while no server answers, until ``budget`` seconds have passed."""
        deadline = time.monotonic() + budget
        pause = _FIRST_PAUSE
        while True:
            request = build()
            try:
                response = self._http.send(request, stream=stream)
            except httpx.TransportError as exc:
                problem = f"{type(exc).__name__}: {exc}"
            else:
                if response.status_code not in _RETRY_STATUSES:
                    if response.status_code >= 400:
                        raise _refusal(response)
                    return response
                problem = f"answered {response.status_code}"
                response.close()
            if time.monotonic() + pause > deadline:
                raise PlatformUnreachable(f"{request.method} {self.url}{request.url.path}: {problem}")
            log.info("%s %s: %s; trying again in %.1f s", request.method, request.url.path, problem, pause)
            time.sleep(pause)
            pause = min(_MAX_PAUSE, pause * 2)


class RemoteHostedFiles:
    """The platform-hosted files of the task a :class:`RemotePlatform` holds, streamed through the API servers.

    Errors are ``OSError`` subclasses, which the worker's transfer code turns
    into the task's failure naming the URL.
    """

    scheme = SCHEME

    def __init__(self, platform: RemotePlatform) -> None:
        self._platform = platform

    def _run(self) -> ActiveRun:
        if self._platform.current is None:
            raise PermissionError("platform files are reached only for a task this worker holds")
        return self._platform.current

    def open_hosted(self, url: str) -> BinaryIO:
        params = _query(self._run()) | {"url": url}
        request = functools.partial(self._platform._http.build_request, "GET", "file", params=params)
        try:
            response = self._platform._send(request, budget=_BUDGET_SECONDS["data"], stream=True)
        except (PlatformRefused, PlatformUnreachable) as exc:
            raise _os_error(exc) from exc
        return io.BufferedReader(_ResponseStream(response), _CHUNK)

    def stage_hosted(self, src: Path, url: str, max_bytes: int) -> RemoteHostedUpload:
        """Nothing leaves the worker before the commit (``max_bytes`` was checked by the caller, the
        API servers check their own limit on the upload)."""
        return RemoteHostedUpload(self._platform, self._run(), Path(src), url)

    def withdraw_hosted(self, url: str) -> None:
        raise PermissionError("a remote worker withdraws nothing after its run: the API servers do")


class RemoteHostedUpload:
    """A hosted output kept in the worker's staging area until its commit uploads and links it."""

    def __init__(self, platform: RemotePlatform, run: ActiveRun, src: Path, url: str) -> None:
        self.platform, self.run, self.src, self.url = platform, run, src, url
        self.committed = False

    def _request(self, method: str, **options: Any) -> Callable[[], httpx.Request]:
        params = _query(self.run) | {"url": self.url}
        return functools.partial(self.platform._http.build_request, method, "file", params=params, **options)

    def commit(self) -> None:
        size = self.src.stat().st_size
        headers = {"content-type": "application/octet-stream", "content-length": str(size)}

        def upload() -> httpx.Request:
            return self._request("PUT", content=_chunks(self.src), headers=headers)()

        try:
            self.platform._send(upload, budget=_BUDGET_SECONDS["data"])
        except (PlatformRefused, PlatformUnreachable) as exc:
            raise _os_error(exc) from exc
        self.committed = True

    def abort(self) -> None:
        return None  # nothing left the worker yet

    def undo(self) -> None:
        """Unlink the output while the run holds the task; after a refused finish the API servers withdraw it."""
        if not self.committed:
            return
        try:
            self.platform._send(self._request("DELETE"), budget=_BUDGET_SECONDS["data"])
        except (PlatformRefused, PlatformUnreachable) as exc:
            log.info("could not unlink %s (%s); the platform's withdrawal sweep takes it back", self.url, exc)
        self.committed = False


class _ResponseStream(io.RawIOBase):
    """A streamed response body as a readable raw file; closing it closes the response."""

    def __init__(self, response: httpx.Response) -> None:
        self._response = response
        self._chunks = response.iter_bytes(_CHUNK)
        self._pending = b""

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        while not self._pending:
            try:
                self._pending = next(self._chunks)
            except StopIteration:
                return 0
            except httpx.HTTPError as exc:
                raise OSError(f"the platform file stream broke off: {exc}") from exc
        size = min(len(buffer), len(self._pending))
        buffer[:size] = self._pending[:size]
        self._pending = self._pending[size:]
        return size

    def close(self) -> None:
        self._response.close()
        super().close()


def _run(run: ActiveRun) -> Run:
    return Run(worker=run.worker_id, task_id=run.task_id, attempt=run.attempt)


def _query(run: ActiveRun) -> dict[str, str]:
    return {"worker": run.worker_id, "task_id": run.task_id, "attempt": str(run.attempt)}


def _chunks(path: Path) -> Iterator[bytes]:
    with open(path, "rb") as file:
        while chunk := file.read(_CHUNK):
            yield chunk


def _refusal(response: httpx.Response) -> PlatformRefused:
    response.read()
    try:
        error = response.json()["error"]
        code, message = str(error["code"]), str(error["message"])
    except (ValueError, KeyError, TypeError):
        code, message = "http_error", response.text[:200] or response.reason_phrase
    return PlatformRefused(response.status_code, code, message)


def _os_error(exc: PlatformRefused | PlatformUnreachable) -> OSError:
    if isinstance(exc, PlatformRefused) and exc.status in (401, 403):
        return PermissionError(str(exc))
    if isinstance(exc, PlatformRefused) and exc.status == 404:
        return FileNotFoundError(str(exc))
    return OSError(str(exc))
