"""Every refusal as ``{"error": {"code", "message"}}`` with a status that fits, and an audit entry.

A refusal the platform has not audited yet (it came before any operation
ran) is audited here, so that every call leaves an entry whatever its outcome.
"""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from teabox.platform.blobs_s3 import BlobStoreError, unavailable
from teabox.platform.disk_space import DiskSpace, StorageFull, is_full_error
from teabox.platform.errors import PlatformError, RetryLater
from teabox.service.call_audit import CallAudit

log = logging.getLogger("teabox.service")

_HTTP_CODES = {404: "not_found", 405: "method_not_allowed", 413: "too_large"}


def error_response(status: int, code: str, message: str, retry_after: int | None = None) -> JSONResponse:
    # Messages may quote what a client sent: escape what UTF-8 cannot carry rather than fail to answer.
    text = message if message.isascii() else message.encode("utf-8", "backslashreplace").decode("utf-8")
    headers = {"Retry-After": str(retry_after)} if retry_after is not None else None
    return JSONResponse({"error": {"code": code, "message": text}}, status_code=status, headers=headers)


def platform_error_response(exc: PlatformError) -> JSONResponse:
    retry_after = exc.retry_after if isinstance(exc, RetryLater) else None
    return error_response(exc.status, exc.code, exc.message, retry_after)


def _describe(exc: RequestValidationError) -> tuple[str, str]:
    problems = []
    code = "invalid_request"
    for error in exc.errors():
        if error.get("type") == "json_invalid":
            return "malformed_json", "the request body is not valid JSON: " + str(error.get("ctx", {}).get("error", ""))
        location = ".".join(str(part) for part in error.get("loc", ()) if part != "body") or "body"
        if location == "body" and error.get("type") in ("missing", "model_attributes_type", "dict_type"):
            return "invalid_request", "the request body must be a JSON object"
        problems.append(f"{location}: {error.get('msg', 'invalid')}")
    return code, "invalid request: " + "; ".join(problems)


def install(app: FastAPI, audit: CallAudit, disk: DiskSpace) -> None:
    @app.exception_handler(PlatformError)
    async def _platform(request: Request, exc: PlatformError) -> JSONResponse:
        if exc.status >= 500 and not isinstance(exc, StorageFull):  # a full disk is logged once, when it fills
            log.error("%s failed: %s", request.url.path, exc.message, exc_info=exc.__cause__ or exc)
        if not exc.audited:
            await audit.refused(request.scope, exc.code, exc.message)
        return platform_error_response(exc)

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        code, message = _describe(exc)
        await audit.refused(request.scope, code, message)
        return error_response(400, code, message)

    @app.exception_handler(HTTPException)
    async def _http(request: Request, exc: HTTPException) -> JSONResponse:
        code = _HTTP_CODES.get(exc.status_code, "http_error")
        message = (
            str(exc.detail)
            if exc.detail and exc.status_code != 404
            else f"there is no endpoint {request.method} {request.url.path}"
        )
        await audit.refused(request.scope, code, message)
        return error_response(exc.status_code, code, message)

    @app.exception_handler(BlobStoreError)
    async def _store(request: Request, exc: BlobStoreError) -> JSONResponse:
        return await _platform(request, unavailable(exc))

    @app.exception_handler(Exception)
    async def _bug(request: Request, exc: Exception) -> JSONResponse:
        if is_full_error(exc):
            return await _platform(request, disk.saw_full())
        log.exception("unexpected error")
        message = f"internal error: {type(exc).__name__}"
        await audit.refused(request.scope, "internal_error", message)
        return error_response(500, "internal_error", message)
