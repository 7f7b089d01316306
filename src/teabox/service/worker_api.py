"""The worker endpoints: what a worker on another machine may ask of the API servers, and nothing more.

Every call carries a worker token (``teabox admin worker-token``), which no
other endpoint accepts, and a user's token is refused here. The worker id a
run is recorded under is the token's id plus the name the worker gives
itself, so one token can never act for a run claimed under another. Besides
claiming, a worker reaches only the task it holds, while it holds it (see
:mod:`teabox.platform.held_runs`): its payload and the streams of its
platform-hosted inputs and outputs. The files' keys come with the claim.

``POST /api/v1/worker/claim`` waits (a bounded long-poll) for a task to be
staged rather than have idle workers poll. All state lives in the database,
so any API server behind a load balancer answers any call, and a worker
rides out a server's restart by retrying.

Successful worker calls are not audited (a heartbeat every half second per
running task would drown the log); refusals are, like every refused call.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Iterator
from typing import Annotated, BinaryIO

from fastapi import Depends, FastAPI, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response, StreamingResponse
from pydantic import BaseModel, ValidationError
from starlette.concurrency import run_in_threadpool

from teabox.platform import worker_tokens
from teabox.platform.core import Platform
from teabox.platform.errors import NotPermitted
from teabox.platform.held_runs import HeldRun, held_run, settled_by, writable_hosted
from teabox.platform.hosted import HostedUpload, is_hosted
from teabox.platform.notify import Listener, Topic
from teabox.platform.queue import ActiveRun
from teabox.service.answers import ErrorBody
from teabox.service.bearer import authorization_header, bearer
from teabox.service.call_audit import PREFIX
from teabox.service.worker_schemas import (
    Body,
    Claim,
    Claimed,
    Finish,
    Held,
    Identity,
    Recorded,
    Run,
    Stored,
    Unlinked,
    WritesBegun,
    parse,
)
from teabox.worker.fetch import TransferPolicy

PATH = f"{PREFIX}/worker"
# What any worker call may be refused with, each with the service's error body.
_REFUSALS: dict[int | str, dict[str, object]] = {
    status: {"model": ErrorBody, "description": why}
    for status, why in (
        (400, "a malformed request"),
        (401, "no worker token, or one that is unknown or revoked"),
        (403, "not_holder: the worker does not hold the task (attempt, lease) it names"),
        (413, "a body over its limit"),
        (500, "internal_error"),
        (503, "blob_store_unavailable"),
    )
}
_STREAMED: dict[int | str, dict[str, object]] = {
    200: {"description": "the bytes, streamed", "content": {"application/octet-stream": {}}},
    **_REFUSALS,
}
_CHUNK = 1024 * 1024
# Receives a raw body into the blob store under a limit: (sha256, size); the service's upload helper.
Receive = Callable[[Request, Platform, int], Awaitable[tuple[str, int]]]
_JSON_BODY = {"requestBody": {"required": True, "content": {"application/json": {"schema": {}}}}}


class WorkerApi:
    """The worker endpoints of one service process, and the wake-up its waiting claims sleep on."""

    def __init__(self, platform: Platform, receive: Receive) -> None:
        self.platform = platform
        self.receive = receive
        self.max_output_bytes = TransferPolicy().max_output_bytes
        self._listener: Listener | None = None
        self._staged = asyncio.Event()  # replaced on every wake-up, so a waiter never misses one

    # -- authorisation ----------------------------------------------------------------------

    async def token(self, authorization: str | None) -> worker_tokens.WorkerTokenInfo:
        """The live worker token the call carries (401 without one)."""
        return await run_in_threadpool(
            worker_tokens.authenticate, self.platform.storage.database, bearer(authorization)
        )

    async def checked(self, request: Request, model: type[Body]) -> tuple[str, Body]:
        """The token's id and the body: the token first, so that a caller without one learns nothing more."""
        token = await self.token(authorization_header(request))
        return token.id, parse(model, await request.body())

    async def held(self, authorization: str | None, run: Run) -> HeldRun:
        worker_id = worker_id_of((await self.token(authorization)).id, run.worker)
        return await run_in_threadpool(
            held_run, self.platform.storage.database, ActiveRun(run.task_id, worker_id, run.attempt)
        )

    # -- waiting for work -------------------------------------------------------------------

    def _start(self) -> None:
        if self._listener is None:
            self._listener = self.platform.storage.notifier.listen(Topic.QUEUE)
            fd = self._listener.fileno()
            if fd is not None:
                asyncio.get_running_loop().add_reader(fd, self._woken)

    def _woken(self) -> None:
        assert self._listener is not None
        self._listener.drain()
        staged, self._staged = self._staged, asyncio.Event()
        staged.set()

    async def claim(self, request: Request, body: Claim, worker_id: str) -> Claimed:
        """Claim now, or each time a task may have been staged, until ``body.wait`` has passed."""
        self._start()
        assert self._listener is not None
        loop = asyncio.get_running_loop()
        deadline = loop.time() + body.wait
        queue, cap = self.platform.storage.queue, self.platform.settings.max_running_per_user
        # Without wake-ups (another database), look a few times a second rather than every few milliseconds.
        poll = max(self._listener.poll_seconds, 0.1)
        while True:
            staged = self._staged  # taken before looking: a wake-up during the look ends the next wait
            task = await run_in_threadpool(queue.claim, worker_id, body.lease_seconds, cap)
            left = deadline - loop.time()
            if task is not None or left <= 0 or await request.is_disconnected():
                return Claimed(task=task)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(staged.wait(), min(left, poll))

    async def close(self) -> None:
        if self._listener is not None:
            fd = self._listener.fileno()
            if fd is not None:
                asyncio.get_running_loop().remove_reader(fd)
            self._listener.close()
            self._listener = None


def mount_worker_api(app: FastAPI, platform: Platform, receive: Receive) -> WorkerApi:
    """Add the worker endpoints to ``app``; close the returned object when the app stops."""
    api = WorkerApi(platform, receive)
    queue, database, hosted = platform.storage.queue, platform.storage.database, platform.storage.hosted

    @app.get(f"{PATH}/whoami", tags=["worker"], responses=_REFUSALS, response_model=Identity)
    async def whoami(request: Request) -> Response:
        """Which worker token the call carries: a worker checks its token with it at start."""
        token = await api.token(authorization_header(request))
        return _json(Identity(token_id=token.id, name=token.name))

    @app.post(f"{PATH}/claim", tags=["worker"], responses=_REFUSALS, response_model=Claimed, openapi_extra=_JSON_BODY)
    async def claim(request: Request) -> Response:
        token_id, body = await api.checked(request, Claim)
        return _json(await api.claim(request, body, worker_id_of(token_id, body.worker)))

    @app.post(f"{PATH}/heartbeat", tags=["worker"], responses=_REFUSALS, response_model=Held, openapi_extra=_JSON_BODY)
    async def heartbeat(request: Request) -> Response:
        token_id, body = await api.checked(request, Run)
        run = ActiveRun(body.task_id, worker_id_of(token_id, body.worker), body.attempt)
        return _json(Held(held=await run_in_threadpool(queue.heartbeat, *run)))

    @app.post(
        f"{PATH}/begin_writes",
        tags=["worker"],
        responses=_REFUSALS,
        response_model=WritesBegun,
        openapi_extra=_JSON_BODY,
    )
    async def begin_writes(request: Request) -> Response:
        token_id, body = await api.checked(request, Run)
        run = ActiveRun(body.task_id, worker_id_of(token_id, body.worker), body.attempt)
        return _json(WritesBegun(refused=await run_in_threadpool(queue.begin_writes, *run)))

    @app.post(f"{PATH}/finish", tags=["worker"], responses=_REFUSALS, response_model=Recorded, openapi_extra=_JSON_BODY)
    async def finish(request: Request) -> Response:
        token_id, body = await api.checked(request, Finish)
        run = ActiveRun(body.task_id, worker_id_of(token_id, body.worker), body.attempt)

        def record() -> bool:
            # A finish sent again because its answer was lost must not look refused: the worker would
            # withdraw the outputs the first one recorded.
            return queue.finish(*run, body.outcome) or settled_by(database, run, body.outcome)

        return _json(Recorded(recorded=await run_in_threadpool(record)))

    @app.get(f"{PATH}/payload", tags=["worker"], response_class=Response, responses=_STREAMED)
    async def payload(run: NamedRun, request: Request) -> StreamingResponse:
        held = await api.held(authorization_header(request), run)
        return _stream(await run_in_threadpool(platform.blobs.open, held.payload_sha256))

    @app.get(f"{PATH}/file", tags=["worker"], response_class=Response, responses=_STREAMED)
    async def read_file(run: NamedRun, request: Request, url: str = Query()) -> StreamingResponse:
        held = await api.held(authorization_header(request), run)
        held.input_at(url)
        _check_hosted(url)
        try:
            return _stream(await run_in_threadpool(hosted.open_hosted, url))
        except FileNotFoundError as exc:
            raise NotPermitted(str(exc), "not_written") from None

    @app.put(f"{PATH}/file", tags=["worker"], responses=_REFUSALS, response_model=Stored)
    async def write_file(
        run: NamedRun,
        request: Request,
        url: str = Query(),
    ) -> Response:
        """Store the body and link the reserved file to it: one hosted output's commit."""
        held = await api.held(authorization_header(request), run)
        held.output_at(url)
        _check_hosted(url)
        file_id = await run_in_threadpool(writable_hosted, database, url)
        sha256, size = await api.receive(request, platform, api.max_output_bytes)
        # Linked only if the run still holds the task once the bytes are in.
        await run_in_threadpool(held_run, database, held.run)
        await run_in_threadpool(HostedUpload(hosted, url, file_id, sha256, size, previous=(None, 0)).commit)
        return _json(Stored(sha256=sha256, size=size))

    @app.delete(f"{PATH}/file", tags=["worker"], responses=_REFUSALS, response_model=Unlinked)
    async def unlink_file(run: NamedRun, request: Request, url: str = Query()) -> Response:
        """Undo a hosted output's commit (a sibling output failed to publish)."""
        held = await api.held(authorization_header(request), run)
        held.output_at(url)
        _check_hosted(url)
        await run_in_threadpool(hosted.withdraw_hosted, url)
        return _json(Unlinked(url=url))

    return api


def worker_id_of(token_id: str, name: str) -> str:
    """The id runs are recorded under: the token's id and the worker's own name, so no token acts for another's."""
    return f"{token_id}/{name}"


def _named_run(worker: str = Query(), task_id: str = Query(), attempt: int = Query()) -> Run:
    """The run a GET, PUT or DELETE names in its query, checked like a body."""
    try:
        return Run.model_validate({"worker": worker, "task_id": task_id, "attempt": attempt})
    except ValidationError as exc:
        raise RequestValidationError(exc.errors(include_url=False)) from None


NamedRun = Annotated[Run, Depends(_named_run)]


def _check_hosted(url: str) -> None:
    if not is_hosted(url):
        raise NotPermitted(f"{url} is not a platform-hosted file; the worker reaches it itself", "not_hosted")


def _json(answer: BaseModel) -> Response:
    return Response(answer.model_dump_json(), media_type="application/json")


def _stream(file: BinaryIO) -> StreamingResponse:
    def chunks() -> Iterator[bytes]:
        with file:
            while chunk := file.read(_CHUNK):
                yield chunk

    return StreamingResponse(chunks(), media_type="application/octet-stream")
