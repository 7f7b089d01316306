"""The FastAPI application: one POST endpoint per platform operation, plus streaming files and the wait.

The event loop never waits for the database: every call's database work is
handed to a few database threads (:mod:`teabox.service.db_threads`), or to the
thread pool when it first checks a payload or streams an upload. Password operations (argon2: tens of milliseconds
and 64 MiB each) queue for one of a few hashing slots without holding a
thread, so a login flood cannot take the threads the other calls need, and
failed logins are limited per user id and per client address. The long-poll
waits without holding a thread or writing anything.
"""

import asyncio
import contextlib
import functools
import os
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from importlib.metadata import version
from typing import Any

from fastapi import FastAPI, Query, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool
from starlette.requests import ClientDisconnect

from teabox.platform.blobs import BlobWriter
from teabox.platform.context import OPERATIONS, Actor
from teabox.platform.core import Platform
from teabox.platform.disk_space import DiskSpace, StorageFull, is_full_error
from teabox.platform.errors import MalformedRequest, PlatformError, TooLarge, TooManyRequests
from teabox.platform.roles import check_api
from teabox.service import errors, openapi, refusals
from teabox.service.answers import ANSWERS, Health
from teabox.service.bearer import authorization_header, bearer
from teabox.service.blob_responses import blob_download
from teabox.service.bodies import JsonBodies
from teabox.service.call_audit import PREFIX, CallAudit, client_address
from teabox.service.console import mount_console
from teabox.service.db_threads import DatabaseThreads
from teabox.service.http_metrics import RequestTimer, RouteNote
from teabox.service.limits import ServiceLimits
from teabox.service.login_guard import LoginGuard
from teabox.service.metrics_access import MetricsAccess
from teabox.service.presigned_downloads import PresignedDownloads
from teabox.service.probes import mount_probes
from teabox.service.schemas import ENDPOINTS, GetTaskResult, UserLogin, params_of
from teabox.service.schemas import Request as Body
from teabox.service.waiter import ResultWaiter
from teabox.service.worker_api import mount_worker_api

_JSON_OVERHEAD = 1024 * 1024
_RAW_BODY = {
    "requestBody": {
        "required": True,
        "content": {"application/octet-stream": {"schema": {"type": "string", "format": "binary"}}},
    }
}
_RAW_PATHS = frozenset({f"{PREFIX}/upload_file", f"{PREFIX}/upload_payload"})
# Operations whose body may carry a payload inline (base64), and so may be as large as a payload.
_INLINE_PAYLOAD = ("register_function", "update_function")
# Operations that hash a password: they wait for a hashing slot.
_HASHING = frozenset({"user_register", "user_update", "user_change_password", "user_redeem_reset"})
_CUSTOM = frozenset({"user_login", "get_task_result"})
# The calls every task makes, in the order the router tries them first (see _order_routes).
_TASK_CALLS = (
    "get_task_result",
    "invoke_task",
    "create_task",
    "worker/claim",
    "worker/heartbeat",
    "worker/begin_writes",
    "worker/finish",
)


def create_app(
    platform: Platform,
    *,
    limits: ServiceLimits | None = None,
    background: list[Callable[[], object]] | None = None,
    period: float = 1.0,
    metrics_access: MetricsAccess | None = None,
    presigned_downloads: PresignedDownloads | None = None,
) -> FastAPI:
    """The service for ``platform``; ``background`` jobs (e.g. requeueing lost tasks) run every ``period`` s.

    ``/metrics`` answers whom ``metrics_access`` allows (nobody by default). With ``presigned_downloads``,
    an authorised download is a redirect to the object store instead of a stream through this process.
    """
    limits = limits or ServiceLimits()
    settings = platform.settings
    db = DatabaseThreads()
    waiter = ResultWaiter(
        functools.partial(db.run, platform.ended_results),
        platform.storage.notifier,
        max_waits=limits.max_waits,
        max_waits_per_user=limits.max_waits_per_user,
    )
    audit = CallAudit(platform)
    guard = LoginGuard(limits)
    hashing = asyncio.Semaphore(os.cpu_count() or 1)
    max_json = int(settings.max_payload_bytes * 4 / 3) + _JSON_OVERHEAD

    @contextlib.asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        waiter.start()
        jobs = [asyncio.create_task(_every(period, job, disk)) for job in background or []]
        yield
        for job in jobs:
            job.cancel()
        await waiter.close()
        await worker_api.close()
        db.close()

    app = FastAPI(
        title="teabox",
        version=version("teabox"),
        description="Multi-party computation over untrusted WebAssembly functions. See docs/http-api.md.",
        lifespan=lifespan,
    )
    disk = platform.storage.disk
    errors.install(app, audit, disk)
    app.add_middleware(RouteNote)  # innermost: sees the route the router chose
    app.add_middleware(
        JsonBodies,
        max_bytes=limits.max_request_bytes,
        larger={f"{PREFIX}/{name}": max(max_json, limits.max_request_bytes) for name in _INLINE_PAYLOAD},
        raw_paths=_RAW_PATHS,
        authenticate=platform.authenticate,
        audit=audit,
    )
    app.add_middleware(RequestTimer)  # outermost: times everything the service does for a request
    mount_console(app, platform, guard)
    worker_api = mount_worker_api(app, platform, _receive)
    mount_probes(app, platform, metrics_access or MetricsAccess())

    def actor_of(authorization: str | None) -> Actor:
        return platform.authenticate(bearer(authorization))

    def answer(name: str, body: Body, authorization: str | None) -> dict[str, Any]:
        return platform.serve(name, bearer(authorization), params_of(body))[1]

    async def hashed(work: Callable[[], dict[str, Any]]) -> dict[str, Any]:
        async with hashing:
            return await run_in_threadpool(work)

    for name, model in ENDPOINTS.items():
        if name not in _CUSTOM:
            _add_rpc(app, name, model, answer, _offload(name, hashed, db))

    @app.post(f"{PREFIX}/user_login", summary="user_login", tags=["users"], **_contract("user_login"))
    async def user_login(body: UserLogin, request: Request) -> JSONResponse:
        address = client_address(request.scope)

        def log_in() -> dict[str, Any]:
            guard.check(body.user_id, address)  # again: others may have failed while this one queued
            try:
                result = platform.call("user_login", None, params_of(body))
            except PlatformError as exc:
                if exc.code == "invalid_credentials":
                    guard.failed(body.user_id, address)
                raise
            guard.succeeded(body.user_id)
            return result

        try:
            guard.check(body.user_id, address)  # before queueing for a hashing slot: a refused guess costs nothing
            return JSONResponse(await hashed(log_in))
        except TooManyRequests as exc:
            if not exc.audited:
                await audit.refused(request.scope, exc.code, exc.message, body.user_id)
                exc.audited = True
            raise

    @app.post(f"{PREFIX}/get_task_result", summary="get_task_result", tags=["tasks"], **_contract("get_task_result"))
    async def get_task_result(body: GetTaskResult, request: Request) -> JSONResponse:
        token_header = authorization_header(request)
        timeout = min(body.timeout, settings.max_wait_seconds)
        if timeout <= 0:
            return JSONResponse(await db.run(answer, "get_task_result", body, token_header))

        def look() -> tuple[Actor, dict[str, Any]]:
            actor, result = platform.serve(
                "get_task_result", bearer(token_header), params_of(body), audit_success=False
            )
            assert actor is not None, "get_task_result needs a token"
            if result["done"]:
                platform.audit(time.time(), actor.user_id, "get_task_result", body.task_id, "ok", "ended")
            return actor, result

        # One hand-off to a thread for the token and the first look, read in one transaction (each hand-off
        # costs the event loop and a thread a wake-up, and the long-poll is half of every task's calls); an
        # ending is answered by the waiter's watcher, which answers every wait that ended in one hand-off.
        mark = waiter.mark()
        actor, result = await db.run(look)
        if result["done"]:
            return JSONResponse(result)
        with waiter.slot(actor.user_id):
            ended = waiter.expect(body.task_id, mark, actor)  # a task that ended since the mark is looked at again
            try:
                answered = await waiter.wait(ended, timeout)  # the watcher answers (and audits) an ending
            finally:
                waiter.forget(body.task_id, ended)
        if answered is not None:
            return JSONResponse(answered)
        # Still running: read again and audited once, in one transaction, when the wait is over.
        return JSONResponse(await db.run(platform.task_result, body.task_id, actor))

    @app.post(f"{PREFIX}/upload_file", tags=["files"], openapi_extra=_RAW_BODY, **_contract("upload_file"))
    async def upload_file(request: Request, name: str = Query()) -> JSONResponse:
        actor = await run_in_threadpool(actor_of, authorization_header(request))
        check_api(actor.role, "upload_file", must_change_password=actor.must_change_password)
        sha256, size = await _receive(request, platform, settings.max_upload_bytes)
        result = await run_in_threadpool(
            platform.call, "upload_file", actor, {"name": name, "sha256": sha256, "size": size}
        )
        return JSONResponse(result)

    @app.post(f"{PREFIX}/upload_payload", tags=["functions"], openapi_extra=_RAW_BODY, **_contract("upload_payload"))
    async def upload_payload(request: Request) -> JSONResponse:
        actor = await run_in_threadpool(actor_of, authorization_header(request))
        check_api(actor.role, "upload_payload", must_change_password=actor.must_change_password)
        sha256, size = await _receive(request, platform, settings.max_payload_bytes)
        result = await run_in_threadpool(platform.call, "upload_payload", actor, {"payload_id": sha256, "size": size})
        return JSONResponse(result)

    @app.get(f"{PREFIX}/download_file", tags=["files"], **_download("download_file"))
    def download_file(request: Request, url: str = Query()) -> Response:
        _, found = platform.serve("download_file", bearer(authorization_header(request)), {"url": url})
        return blob_download(platform.blobs, found["sha256"], found["name"], presigned_downloads)

    @app.get(f"{PREFIX}/download_payload", tags=["functions"], **_download("download_payload"))
    def download_payload(request: Request, function_id: str = Query()) -> Response:
        token = bearer(authorization_header(request))
        _, found = platform.serve("download_payload", token, {"function_id": function_id})
        return blob_download(platform.blobs, found["payload_id"], f"{function_id}.wasm", presigned_downloads)

    @app.get("/", include_in_schema=False)
    def root() -> RedirectResponse:
        return RedirectResponse("/console/")

    @app.get(f"{PREFIX}/health", tags=["service"], response_model=Health)
    def health() -> dict[str, Any]:
        """Alive (200) whatever the state; ``status`` says whether writes are refused for want of space."""
        return {
            "status": "storage_full" if disk.full else "ok",
            "version": version("teabox"),
            "storage": disk.report(),
        }

    openapi.install(app, list(app.routes))  # described in the order the code registers them
    _order_routes(app)
    return app


def _order_routes(app: FastAPI) -> None:
    """Put the task flow's calls first, then the rest of the API, then the console, docs and probes.

    The router tries its routes one after another (a regular expression each, and every console
    page for the console's router) until one matches, so a call's matching costs in proportion to
    its place: registered in the order the code is laid out, the long-poll came after 60 others.
    Paths of different routes never overlap (the API's are all under /api/v1 and fixed), so the
    order decides nothing but that cost; the sort is stable, so one path's routes (a GET and a PUT)
    keep their order.
    """
    first = {f"{PREFIX}/{name}": place for place, name in enumerate(_TASK_CALLS)}

    def place(route: object) -> int:
        path = getattr(route, "path", "")
        return first.get(path, len(first) if path.startswith(f"{PREFIX}/") else len(first) + 1)

    app.router.routes.sort(key=place)


Answer = Callable[[str, Body, str | None], dict[str, Any]]
Offload = Callable[[Callable[[], dict[str, Any]]], Awaitable[dict[str, Any]]]


def _offload(name: str, hashed: Offload, db: DatabaseThreads) -> Offload:
    """Where an operation's work runs: after a hashing slot, in the thread pool when it has a slow
    preparation (checking a payload) that must not hold up the database threads, else on those."""
    if name in _HASHING:
        return hashed
    if OPERATIONS[name].prepare is not None:
        return run_in_threadpool
    return db.run


def _add_rpc(app: FastAPI, name: str, model: type[Body], answer: Answer, offload: Offload) -> None:
    """An endpoint whose work ``offload`` runs off the event loop (on the database threads, or after hashing)."""

    async def endpoint(body: Body, request: Request) -> JSONResponse:
        token_header = authorization_header(request)
        return JSONResponse(await offload(lambda: answer(name, body, token_header)))

    endpoint.__annotations__["body"] = model
    endpoint.__name__ = name
    app.post(f"{PREFIX}/{name}", summary=name, tags=[_tag(name)], **_contract(name))(endpoint)


def _contract(name: str) -> dict[str, Any]:
    """The route arguments that describe operation ``name``'s answers (see :mod:`teabox.service.answers`)."""
    return {"response_model": ANSWERS[name], "responses": refusals.responses(name)}


def _download(name: str) -> dict[str, Any]:
    """The same for a download, whose answer is the file's bytes, or where to fetch them."""
    raw = {"description": "the file's bytes, streamed", "content": {"application/octet-stream": {}}}
    return {"response_class": Response, "responses": {200: raw, **_REDIRECT, **refusals.responses(name)}}


# Declared by both downloads: the answer when the server runs with --presign-downloads (an S3 store).
_REDIRECT: dict[int | str, dict[str, Any]] = {
    307: {
        "description": "fetch the bytes from the object store: a GET of `Location`, a presigned URL that is valid "
        "for a short while and names this one file (send no token with it)",
        "headers": {"Location": {"description": "the presigned URL", "schema": {"type": "string", "format": "uri"}}},
    }
}


def _tag(name: str) -> str:
    for word, tag in (
        ("user", "users"),
        ("function", "functions"),
        ("payload", "functions"),
        ("task", "tasks"),
        ("audit", "audit"),
    ):
        if word in name:
            return tag
    return "files"


_WRITE_BATCH_BYTES = 1024 * 1024


async def _receive(request: Request, platform: Platform, limit: int) -> tuple[str, int]:
    """Stream the raw body into the blob store, refusing it (and keeping nothing) past ``limit`` bytes."""
    length = request.headers.get("content-length")
    if length is not None:
        if not length.isdigit():
            raise MalformedRequest("Content-Length must be a number of bytes")
        if int(length) > limit:
            raise TooLarge(f"the upload is {length} bytes, over the {limit}-byte limit")
    try:
        writer = platform.blobs.writer(limit)
    except StorageFull:
        await _drain(request, limit)
        raise
    try:
        # Off the event loop, a megabyte per trip: a write to an object store waits on the network.
        batch: list[bytes] = []
        batched = 0
        body_read = False
        async for chunk in request.stream():
            batch.append(chunk)
            batched += len(chunk)
            if batched >= _WRITE_BATCH_BYTES or writer.size + batched > limit:  # over the limit: refuse now
                await run_in_threadpool(_write_all, writer, batch)
                batch, batched = [], 0
        body_read = True
        await run_in_threadpool(_write_all, writer, batch)
    except StorageFull:
        if not body_read:
            await _drain(request, limit - writer.size)
        raise
    except ClientDisconnect:
        # A client that gives up (Ctrl-C, a lost connection) is no server error: one line, no traceback.
        writer.abort()
        errors.log.warning(
            "%s: the client closed the connection after %d of %s bytes; nothing was kept",
            request.url.path,
            writer.size,
            length or "unannounced",
        )
        raise MalformedRequest("the client closed the connection before the upload ended") from None
    except BaseException:
        writer.abort()
        raise
    return await run_in_threadpool(writer.commit), writer.size


def _write_all(writer: BlobWriter, chunks: list[bytes]) -> None:
    for chunk in chunks:
        writer.write(chunk)


async def _drain(request: Request, limit: int) -> None:
    """Read and drop the rest of a refused upload (up to ``limit`` bytes), so that the client reads the
    refusal instead of a connection reset in the middle of its sending."""
    left = limit
    async for chunk in request.stream():
        left -= len(chunk)
        if left < 0:
            return


async def _every(period: float, job: Callable[[], object], disk: DiskSpace) -> None:
    while True:
        try:
            await run_in_threadpool(job)
        except Exception as exc:
            if is_full_error(exc):
                disk.saw_full()  # logged once, not every second
            else:
                errors.log.exception("background job failed")
        await asyncio.sleep(period)
