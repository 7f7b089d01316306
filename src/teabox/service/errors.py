"""Every refusal as ``{"error": {"code", "message"}}`` with a status that fits."""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from teabox.platform.errors import PlatformError

log = logging.getLogger("teabox.service")

_HTTP_CODES = {404: "not_found", 405: "method_not_allowed", 413: "too_large"}


def error_response(status: int, code: str, message: str) -> JSONResponse:
    return JSONResponse({"error": {"code": code, "message": message}}, status_code=status)


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


def install(app: FastAPI) -> None:
    @app.exception_handler(PlatformError)
    async def _platform(_request: Request, exc: PlatformError) -> JSONResponse:
        return error_response(exc.status, exc.code, exc.message)

    @app.exception_handler(RequestValidationError)
    async def _validation(_request: Request, exc: RequestValidationError) -> JSONResponse:
        code, message = _describe(exc)
        return error_response(400, code, message)

    @app.exception_handler(HTTPException)
    async def _http(request: Request, exc: HTTPException) -> JSONResponse:
        code = _HTTP_CODES.get(exc.status_code, "http_error")
        message = (
            str(exc.detail)
            if exc.detail and exc.status_code != 404
            else f"there is no endpoint {request.method} {request.url.path}"
        )
        return error_response(exc.status_code, code, message)

    @app.exception_handler(Exception)
    async def _bug(_request: Request, exc: Exception) -> JSONResponse:
        log.exception("unexpected error")
        return error_response(500, "internal_error", f"internal error: {type(exc).__name__}")
