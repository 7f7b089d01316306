"""The service's ``/openapi.json``, corrected where FastAPI's defaults say what the service never does.

FastAPI gives every route with parameters a 422 answer in the shape of its
own validation error; this service answers a malformed request with 400 and
its error body (:mod:`teabox.service.errors`), so that 422 is dropped, and
the routes whose rules do refuse with 422 declare it themselves
(:mod:`teabox.service.refusals`). The bearer token is declared as a security
scheme rather than as a header parameter, required by every operation the
platform registers as authenticated: which operations need no token
(``user_login``, ``user_redeem_reset``) is said once, in their registration.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from starlette.routing import BaseRoute

from teabox.platform.context import OPERATIONS
from teabox.service.call_audit import PREFIX

BEARER = "bearer"
_FASTAPI_VALIDATION = ("ValidationError", "HTTPValidationError")


def install(app: FastAPI, routes: list[BaseRoute]) -> None:
    """Serve the corrected description of ``routes``, built once on first request as FastAPI's own is."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = corrected(
                get_openapi(title=app.title, version=app.version, description=app.description, routes=routes)
            )
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


def corrected(schema: dict[str, Any]) -> dict[str, Any]:
    """``schema`` without FastAPI's validation answers, and with the token where it is needed."""
    for path, methods in schema.get("paths", {}).items():
        name = path.removeprefix(f"{PREFIX}/")
        for operation in methods.values():
            _drop_validation_answer(operation)
            if name in OPERATIONS:
                operation["security"] = [{BEARER: []}] if OPERATIONS[name].authenticated else []
    components = schema.setdefault("components", {})
    for unused in _FASTAPI_VALIDATION:
        components.get("schemas", {}).pop(unused, None)
    components["securitySchemes"] = {
        BEARER: {"type": "http", "scheme": "bearer", "description": "the token user_login answers with"}
    }
    return schema


def _drop_validation_answer(operation: dict[str, Any]) -> None:
    answer = operation.get("responses", {}).get("422", {})
    reference = answer.get("content", {}).get("application/json", {}).get("schema", {}).get("$ref", "")
    if reference.endswith("/HTTPValidationError"):
        del operation["responses"]["422"]
