"""The order the router tries its routes in: the task flow's calls first, and every request still reaching its route.

The router tries routes one after another until one matches, so the order is what a call's matching
costs; it must decide nothing else. The description (/openapi.json) keeps the order the code registers
the routes in: tests/service/test_http_api_doc.py holds the written reference to it.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi import FastAPI
from starlette.routing import BaseRoute, Match

from teabox.platform.core import Platform
from teabox.platform.storage import Storage
from teabox.service.app import create_app
from teabox.service.call_audit import PREFIX

TASK_FLOW = ("get_task_result", "invoke_task", "create_task")


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FastAPI]:
    storage = Storage.open(tmp_path_factory.mktemp("routes") / "data")
    try:
        yield create_app(Platform(storage))
    finally:
        storage.close()


def first_full_match(app: FastAPI, path: str, method: str) -> BaseRoute | None:
    scope = {"type": "http", "path": path, "method": method, "root_path": "", "headers": []}
    return next((route for route in app.router.routes if route.matches(scope)[0] == Match.FULL), None)


def test_the_task_flows_calls_are_tried_first_and_the_api_before_anything_else(app: FastAPI) -> None:
    paths = [str(getattr(route, "path", "")) for route in app.router.routes]
    assert paths[: len(TASK_FLOW)] == [f"{PREFIX}/{name}" for name in TASK_FLOW]
    api = [path.startswith(f"{PREFIX}/") for path in paths]
    assert api == sorted(api, reverse=True), "a route outside the API comes before one of it"


def test_every_request_reaches_the_route_registered_for_it(app: FastAPI) -> None:
    checked = 0
    for route in app.router.routes:
        path, methods = getattr(route, "path", None), getattr(route, "methods", None)
        if not isinstance(path, str) or "{" in path or not methods:
            continue  # mounts, the console's router, routes with path parameters
        for method in methods:
            assert first_full_match(app, path, method) is route, f"{method} {path}"
            checked += 1
    assert checked > 50


def test_the_description_lists_the_operations_in_the_order_they_are_registered(app: FastAPI) -> None:
    described = list(app.openapi()["paths"])
    assert described.index(f"{PREFIX}/user_logout") < described.index(f"{PREFIX}/get_task_result")
