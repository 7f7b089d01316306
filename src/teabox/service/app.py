"""The FastAPI application: one POST endpoint per platform operation, plus streaming files and the wait.

Most handlers are one short database transaction and run on the event loop;
those that hash passwords (argon2) or check payloads run in the thread pool.
The long-poll waits without holding a thread, so many waiting clients cost
nothing but a future each.
"""

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from importlib.metadata import version
from typing import Any
from urllib.parse import quote

from fastapi import FastAPI, Header, Query, Request
from fastapi.responses import FileResponse, JSONResponse
from starlette.concurrency import run_in_threadpool

from teabox.platform.context import OPERATIONS, Actor
from teabox.platform.core import Platform
from teabox.platform.errors import BadRequest, TooLarge
from teabox.platform.roles import check_api
from teabox.service import errors
from teabox.service.schemas import ENDPOINTS, GetTaskResult, params_of
from teabox.service.schemas import Request as Body
from teabox.service.waiter import ResultWaiter

PREFIX = "/api/v1"
_JSON_OVERHEAD = 1024 * 1024
_RAW_BODY = {
    "requestBody": {
        "required": True,
        "content": {"application/octet-stream": {"schema": {"type": "string", "format": "binary"}}},
    }
}


def _bearer(authorization: str | None) -> str | None:
    if authorization is None:
        return None
    scheme, _, token = authorization.partition(" ")
    return token.strip() if scheme.lower() == "bearer" else None


def create_app(
    platform: Platform, *, background: list[Callable[[], None]] | None = None, period: float = 1.0
) -> FastAPI:
    """The service for ``platform``; ``background`` jobs (e.g. requeueing lost tasks) run every ``period`` s."""
    waiter = ResultWaiter(platform.ended_tasks, platform.storage.notifier)
    settings = platform.settings
    max_json = int(settings.max_payload_bytes * 4 / 3) + _JSON_OVERHEAD

    @contextlib.asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        waiter.start()
        jobs = [asyncio.create_task(_every(period, job)) for job in background or []]
        yield
        for job in jobs:
            job.cancel()
        await waiter.close()

    app = FastAPI(
        title="teabox",
        version=version("teabox"),
        description="Multi-party computation over untrusted WebAssembly functions. See docs/http-api.md.",
        lifespan=lifespan,
    )
    errors.install(app)
    app.add_middleware(_JsonBodies, max_bytes=max_json)

    def actor_of(authorization: str | None) -> Actor:
        return platform.authenticate(_bearer(authorization))

    for name, model in ENDPOINTS.items():
        if name == "get_task_result":
            continue
        _add_rpc(app, platform, name, model, actor_of)

    @app.post(f"{PREFIX}/get_task_result", summary="get_task_result", tags=["tasks"])
    async def get_task_result(body: GetTaskResult, authorization: str | None = Header(default=None)) -> JSONResponse:
        actor = actor_of(authorization)
        answer = platform.call("get_task_result", actor, params_of(body))
        timeout = min(body.timeout, settings.max_wait_seconds)
        if not answer["done"] and timeout > 0 and await waiter.wait(body.task_id, timeout):
            answer = platform.task_result(body.task_id, actor)
        return JSONResponse(answer)

    @app.post(f"{PREFIX}/upload_file", tags=["files"], openapi_extra=_RAW_BODY)
    async def upload_file(
        request: Request, name: str = Query(), authorization: str | None = Header(default=None)
    ) -> JSONResponse:
        actor = await run_in_threadpool(actor_of, authorization)
        check_api(actor.role, "upload_file", must_change_password=actor.must_change_password)
        sha256, size = await _receive(request, platform, settings.max_upload_bytes)
        result = await run_in_threadpool(
            platform.call, "upload_file", actor, {"name": name, "sha256": sha256, "size": size}
        )
        return JSONResponse(result)

    @app.post(f"{PREFIX}/upload_payload", tags=["functions"], openapi_extra=_RAW_BODY)
    async def upload_payload(request: Request, authorization: str | None = Header(default=None)) -> JSONResponse:
        actor = await run_in_threadpool(actor_of, authorization)
        check_api(actor.role, "upload_payload", must_change_password=actor.must_change_password)
        sha256, size = await _receive(request, platform, settings.max_payload_bytes)
        result = await run_in_threadpool(platform.call, "upload_payload", actor, {"payload_id": sha256, "size": size})
        return JSONResponse(result)

    @app.get(f"{PREFIX}/download_file", tags=["files"])
    def download_file(url: str = Query(), authorization: str | None = Header(default=None)) -> FileResponse:
        found = platform.call("download_file", actor_of(authorization), {"url": url})
        return _file(platform, found["sha256"], found["name"])

    @app.get(f"{PREFIX}/download_payload", tags=["functions"])
    def download_payload(function_id: str = Query(), authorization: str | None = Header(default=None)) -> FileResponse:
        found = platform.call("download_payload", actor_of(authorization), {"function_id": function_id})
        return _file(platform, found["payload_id"], f"{function_id}.wasm")

    @app.get(f"{PREFIX}/health", tags=["service"])
    def health() -> dict[str, str]:
        return {"status": "ok", "version": version("teabox")}

    return app


_RAW_PATHS = {f"{PREFIX}/upload_file", f"{PREFIX}/upload_payload"}


class _JsonBodies:
    """Every RPC body is JSON of bounded size.

    It is read as JSON whatever Content-Type it came with (``curl -d`` sends a
    form type), and one announced as larger than ``max_bytes`` is refused with
    413 before it is read. A plain ASGI middleware: Starlette's
    ``BaseHTTPMiddleware`` would add a task group and a stream per request.
    """

    def __init__(self, app: Any, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http" and scope["method"] == "POST" and scope["path"] not in _RAW_PATHS:
            headers = [(k, v) for k, v in scope["headers"] if k != b"content-type"]
            length = next((v for k, v in headers if k == b"content-length"), b"")
            if length.isdigit() and int(length) > self.max_bytes:
                response = errors.error_response(
                    413, "too_large", f"the request body is larger than {self.max_bytes} bytes"
                )
                await response(scope, receive, send)
                return
            scope = dict(scope, headers=[*headers, (b"content-type", b"application/json")])
        await self.app(scope, receive, send)


# Operations that hash passwords or check and store payloads: run in the thread pool. The others
# are single short transactions, run on the event loop itself, which saves a thread hand-off per call.
_SLOW = frozenset(
    {
        "user_login",
        "user_register",
        "user_update",
        "user_change_password",
        "user_redeem_reset",
        "reset_user_password",
        "register_function",
        "update_function",
    }
)


def _add_rpc(
    app: FastAPI, platform: Platform, name: str, model: type[Body], actor_of: Callable[[str | None], Actor]
) -> None:
    authenticated = OPERATIONS[name].authenticated

    def answer(body: Body, authorization: str | None) -> JSONResponse:
        actor = actor_of(authorization) if authenticated else None
        return JSONResponse(platform.call(name, actor, params_of(body)))

    if name in _SLOW:

        def endpoint(body: Body, authorization: str | None = Header(default=None)) -> JSONResponse:
            return answer(body, authorization)

    else:

        async def endpoint(body: Body, authorization: str | None = Header(default=None)) -> JSONResponse:  # type: ignore[misc]
            return answer(body, authorization)

    endpoint.__annotations__["body"] = model
    endpoint.__name__ = name
    app.post(f"{PREFIX}/{name}", summary=name, tags=[_tag(name)])(endpoint)


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


async def _receive(request: Request, platform: Platform, limit: int) -> tuple[str, int]:
    """Stream the raw body into the blob store, refusing it (and keeping nothing) past ``limit`` bytes."""
    length = request.headers.get("content-length")
    if length is not None:
        if not length.isdigit():
            raise BadRequest("Content-Length must be a number of bytes")
        if int(length) > limit:
            raise TooLarge(f"the upload is {length} bytes, over the {limit}-byte limit")
    writer = platform.blobs.writer(limit)
    try:
        async for chunk in request.stream():
            writer.write(chunk)
    except BaseException:
        writer.abort()
        raise
    return writer.commit(), writer.size


def _file(platform: Platform, sha256: str, name: str) -> FileResponse:
    return FileResponse(
        platform.blobs.path(sha256),
        media_type="application/octet-stream",
        headers={"Content-Disposition": f"attachment; filename*=UTF-8''{quote(name)}"},
    )


async def _every(period: float, job: Callable[[], None]) -> None:
    while True:
        try:
            await run_in_threadpool(job)
        except Exception:
            errors.log.exception("background job failed")
        await asyncio.sleep(period)
