"""Property-based fuzzing of the HTTP API from its own OpenAPI description: no input gets a 5xx, and every
answer is one the description declares (its status, content type and body schema).

Schemathesis generates requests for every operation the service describes,
valid and invalid ones, and a seeded share of them is poisoned with what
broke the service before (lone UTF-16 surrogates, NUL characters, integers
beyond 64 bits) at a random place in the body. The calls carry an admin's
token, so that they reach the operations rather than stop at
authentication; they go to a private server, since the fuzzer changes users
and passwords. Seeded (derandomized) and bounded: the same cases every run.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from support.service_calls import admin_token

from teabox.testing.local_server import LocalServer

EXAMPLES_PER_OPERATION = 6
DECLARED = [status_code_conformance, content_type_conformance, response_schema_conformance]
POISONS = st.sampled_from(["\ud800", "text\udfff", "nul\x00byte", 2**63, 2**64 + 1, -(2**63) - 1, 10**40])


@pytest.fixture(scope="module")
def fuzz_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalServer]:
    running = LocalServer(Path(tmp_path_factory.mktemp("fuzz")), workers=0)
    running.start()
    yield running
    running.stop()


@pytest.fixture(scope="module")
def token(fuzz_server: LocalServer) -> str:
    return admin_token(fuzz_server)


@pytest.fixture(scope="module")
def api(fuzz_server: LocalServer) -> Any:
    loaded = schemathesis.openapi.from_url(f"{fuzz_server.url}/openapi.json")
    # Logging out would turn every later call into a plain 401.
    return loaded.exclude(path="/api/v1/user_logout")


schema = schemathesis.pytest.from_fixture("api")


def poison(body: Any, value: Any, data: st.DataObject) -> None:
    """Put ``value`` in place of one value (or as one more key) somewhere inside ``body``."""
    while True:
        if isinstance(body, dict) and body:
            key = data.draw(st.sampled_from(sorted(body)))
            if isinstance(body[key], (dict, list)) and body[key] and data.draw(st.booleans()):
                body = body[key]
                continue
            if isinstance(value, str) and data.draw(st.booleans()):
                body[value] = 1
            else:
                body[key] = value
            return
        if isinstance(body, list) and body:
            index = data.draw(st.integers(0, len(body) - 1))
            if isinstance(body[index], (dict, list)) and body[index]:
                body = body[index]
                continue
            body[index] = value
        return


@schema.parametrize()
@schema.given(data=st.data())
@settings(
    max_examples=EXAMPLES_PER_OPERATION,
    derandomize=True,
    deadline=None,
    database=None,
    suppress_health_check=list(HealthCheck),
)
def test_no_input_gets_a_server_error(case: Any, data: st.DataObject, fuzz_server: LocalServer, token: str) -> None:
    if isinstance(case.body, (dict, list)) and data.draw(st.booleans()):
        poison(case.body, data.draw(POISONS), data)
    response = case.call(base_url=fuzz_server.url, headers={"Authorization": f"Bearer {token}"}, timeout=60)
    assert response.status_code < 500, (
        f"{case.method} {case.path} {case.body!r} -> {response.status_code} {response.text}"
    )
    case.validate_response(response, checks=DECLARED)
