"""The wire contract, walked three ways: every platform operation × its OpenAPI entry × the SDK method that calls it.

The service's ``/openapi.json`` must describe every route's answers (a real model for 200, the error body for
every refusal the operation can give, nothing FastAPI adds on its own) and say which operations need the token.
The SDK's source is read (``support.sdk_calls``) and what it sends, reads and builds is held against the same
request and answer models, so a field renamed on one side fails here rather than in a user's script.
"""

from __future__ import annotations

import dataclasses
import json
import types
import typing
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel
from support.sdk_calls import Call, Method, client_methods, operations_of

from teabox.client import results
from teabox.platform.context import OPERATIONS
from teabox.platform.core import Platform
from teabox.platform.storage import Storage
from teabox.service.answers import ANSWERS
from teabox.service.app import create_app
from teabox.service.call_audit import PREFIX
from teabox.service.refusals import OWN, statuses
from teabox.service.schemas import ENDPOINTS

# Routes of the API that are no platform operation, and why.
NOT_OPERATIONS = {
    f"{PREFIX}/health": "the liveness probe: no token, no role, not audited (Client.health reads it)",
    f"{PREFIX}/ready": "the readiness probe for load balancers: no token, no role, not audited",
    **{
        f"{PREFIX}/worker/{route}": "the remote workers' protocol (teabox.service.worker_api): worker tokens only"
        for route in ("whoami", "claim", "heartbeat", "begin_writes", "finish", "payload", "file")
    },
}
# Public Client methods that are not the one call of the operation of their name, and why.
NOT_ONE_CALL = {
    "connect": "kept for Teaclave's `Service(address).connect()`; the connection opens lazily",
    "close": "closes the HTTP connection",
    "health": "GET /api/v1/health, which is no operation",
    "poll_task_result": "one long-poll of get_task_result, answering the typed TaskResult",
    "wait_for_task": "long-polls get_task_result until the task ends or the deadline passes",
    "register_local_input": "encrypts a local file here, then upload_file and register_input_file",
    "register_encrypted_input": "checks an encrypted file here, then upload_file and register_input_file",
    "register_hosted_output": "reserve_file, then register_output_file under a fresh key",
    "fetch_output": "get_output_file and download_file, then decrypts and checks the cmac here",
}
# Operations whose SDK method returns the answer as it came, and why.
UNTYPED = {
    "get_queue_stats": "figures for display (the console, the CLI): returned as the answer's dict",
    "reset_user_password": "the answer only confirms the lock; the method returns None (a refusal raises)",
}
# Answer fields a result class leaves out, and why.
NOT_KEPT = {
    ("Task", "payload_sha256"): "which payload a task runs is the function owner's concern: get_function shows it",
    ("Task", "limits"): "the run limits are the function's: get_function shows them",
}
# Routes that may answer a redirect to a presigned URL of the object store (teabox serve --presign-downloads).
_DOWNLOADS = {f"{PREFIX}/download_file", f"{PREFIX}/download_payload"}
_DATACLASSES = {name: cls for name, cls in vars(results).items() if dataclasses.is_dataclass(cls)}


@pytest.fixture(scope="module")
def openapi(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    storage = Storage.open(Path(tmp_path_factory.mktemp("contract")))
    try:
        yield create_app(Platform(storage)).openapi()
    finally:
        storage.close()


@pytest.fixture(scope="module")
def methods() -> dict[str, Method]:
    return client_methods()


def _routes(openapi: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    for path, entries in openapi["paths"].items():
        for method, entry in entries.items():
            yield path, method, entry


def _names(model: type[BaseModel]) -> set[str]:
    return {info.alias or name for name, info in model.model_fields.items()}


def _required(model: type[BaseModel]) -> set[str]:
    return {info.alias or name for name, info in model.model_fields.items() if info.is_required()}


# -- operations × OpenAPI ----------------------------------------------------------------------------------


def test_every_operation_has_one_entry_and_every_entry_is_an_operation_or_says_why(openapi: dict[str, Any]) -> None:
    api_paths = {path for path in openapi["paths"] if path.startswith(f"{PREFIX}/")}
    for name in OPERATIONS:
        assert len(openapi["paths"].get(f"{PREFIX}/{name}", {})) == 1, f"{name} has no single OpenAPI entry"
    unaccounted = api_paths - {f"{PREFIX}/{name}" for name in OPERATIONS} - set(NOT_OPERATIONS)
    assert not unaccounted, f"routes that are no operation: add them to NOT_OPERATIONS with a reason: {unaccounted}"
    assert set(NOT_OPERATIONS) <= api_paths, "NOT_OPERATIONS names a route that is gone"


def test_every_route_describes_its_answers(openapi: dict[str, Any]) -> None:
    """A real schema for 200 (no ``{}``), the error body for every refusal, and no FastAPI validation answer."""
    assert "HTTPValidationError" not in json.dumps(openapi)
    for path, method, entry in _routes(openapi):
        where = f"{method.upper()} {path}"
        answers = entry["responses"]
        content = answers["200"].get("content", {})
        assert content, f"{where}: 200 has no content"
        if "application/json" in content:  # other media types (a file's bytes) are described by their type
            described = content["application/json"]
            assert described.get("schema", {}).get("$ref"), f"{where}: 200 has no model: {described}"
        for status, answer in answers.items():
            if status == "307":  # a download's redirect to a presigned URL: no body, where to go in Location
                assert path in _DOWNLOADS and set(answer["headers"]) == {"Location"}, where
            elif status != "200":
                schema = answer["content"]["application/json"]["schema"]
                assert schema == {"$ref": "#/components/schemas/ErrorBody"}, f"{where}: {status} is {schema}"


def test_every_operation_declares_the_refusals_it_can_give(openapi: dict[str, Any]) -> None:
    assert set(OWN) == set(OPERATIONS), "the refusals table and the operations differ"
    for name in OPERATIONS:
        ((_, entry),) = openapi["paths"][f"{PREFIX}/{name}"].items()
        declared = {int(status) for status in entry["responses"]} - {200, 307}
        assert declared == statuses(name), name


def test_the_token_is_required_exactly_where_the_operation_is_registered_authenticated(
    openapi: dict[str, Any],
) -> None:
    for name, operation in OPERATIONS.items():
        ((_, entry),) = openapi["paths"][f"{PREFIX}/{name}"].items()
        assert entry["security"] == ([{"bearer": []}] if operation.authenticated else []), name
        assert all(p["name"].lower() != "authorization" for p in entry.get("parameters", [])), name


def test_every_json_answer_has_its_model(openapi: dict[str, Any]) -> None:
    for name, model in ANSWERS.items():
        ((_, entry),) = openapi["paths"][f"{PREFIX}/{name}"].items()
        reference = entry["responses"]["200"]["content"]["application/json"]["schema"]["$ref"]
        assert reference == f"#/components/schemas/{model.__name__}", name
    binary = {name for name in OPERATIONS if name not in ANSWERS}
    for name in binary:
        ((_, entry),) = openapi["paths"][f"{PREFIX}/{name}"].items()
        assert list(entry["responses"]["200"]["content"]) == ["application/octet-stream"], name


# -- operations × SDK methods -----------------------------------------------------------------------------


def _public(methods: dict[str, Method]) -> set[str]:
    properties = {"url", "token", "metadata"}
    return {name for name, method in methods.items() if method.public and name not in properties}


def test_every_operation_has_the_sdk_method_of_its_name(methods: dict[str, Method]) -> None:
    for name in OPERATIONS:
        assert name in methods, f"the SDK has no method {name}"
        assert name in operations_of(methods, name), f"Client.{name} does not call the operation {name}"


def test_every_sdk_method_is_an_operation_or_says_why(methods: dict[str, Method]) -> None:
    others = _public(methods) - set(OPERATIONS)
    assert others == set(NOT_ONE_CALL), f"add a reason for {others - set(NOT_ONE_CALL)}"
    for name in NOT_ONE_CALL.keys() - {"connect", "close", "health"}:
        assert operations_of(methods, name), f"Client.{name} calls no operation"


def _sdk_calls(methods: dict[str, Method]) -> Iterator[tuple[str, Call]]:
    for name, method in methods.items():
        for call in method.calls:
            yield name, call


def _query(openapi: dict[str, Any], name: str) -> tuple[set[str], set[str]]:
    ((_, entry),) = openapi["paths"][f"{PREFIX}/{name}"].items()
    parameters = [p for p in entry.get("parameters", []) if p["in"] == "query"]
    return {p["name"] for p in parameters}, {p["name"] for p in parameters if p.get("required")}


def test_the_sdk_sends_what_each_operation_accepts(methods: dict[str, Method], openapi: dict[str, Any]) -> None:
    for method, call in _sdk_calls(methods):
        assert call.sent is not None, f"Client.{method}: what it sends to {call.operation} cannot be read"
        if call.kind == "call":
            accepted, required = _names(ENDPOINTS[call.operation]), _required(ENDPOINTS[call.operation])
        else:
            accepted, required = _query(openapi, call.operation)
        assert call.sent <= accepted, f"Client.{method} sends {call.sent - accepted} that {call.operation} refuses"
        assert required <= call.sent, f"Client.{method} leaves out {required - call.sent} of {call.operation}"


def test_the_sdk_reads_only_what_each_answer_carries(methods: dict[str, Method]) -> None:
    for method, call in _sdk_calls(methods):
        if call.kind == "download":
            assert not call.read, f"Client.{method} reads keys of a file"
            continue
        missing = call.read - _names(ANSWERS[call.operation])
        assert not missing, f"Client.{method} reads {missing}, which {call.operation} never answers"


def _item_model(model: type[BaseModel], field: str | None) -> type[BaseModel]:
    """``model`` itself, or the model of the items of its list field ``field``."""
    if field is None:
        return model
    (item,) = typing.get_args(model.model_fields[field].annotation)
    assert isinstance(item, type) and issubclass(item, BaseModel)
    return item


def _nullable(annotation: Any) -> bool:
    return isinstance(annotation, types.UnionType) and type(None) in typing.get_args(annotation)


def test_every_typed_result_matches_its_answer(methods: dict[str, Method]) -> None:
    """A result class's fields are the answer's: none it expects is missing, none it drops goes unexplained."""
    typed = set()
    sent_to: dict[str, set[str]] = {}  # result class -> the fields some answer it is built from sends
    for method, call in _sdk_calls(methods):
        for class_name, field in call.built:
            typed.add(call.operation)
            model = _item_model(ANSWERS[call.operation], field)
            kept = {f.name: f for f in dataclasses.fields(_DATACLASSES[class_name])}
            sent = _names(model)
            sent_to.setdefault(class_name, set()).update(sent)
            dropped = {name for name in sent - set(kept) if (class_name, name) not in NOT_KEPT}
            assert not dropped, f"{class_name} leaves out {dropped} of {model.__name__}: keep them or say why"
            for name, kept_field in kept.items():
                has_default = kept_field.default is not dataclasses.MISSING or (
                    kept_field.default_factory is not dataclasses.MISSING
                )
                info = next((i for n, i in model.model_fields.items() if (i.alias or n) == name), None)
                where = f"Client.{method}: {class_name}.{name}"
                assert has_default or (info is not None and info.is_required()), f"{where} is required, may be absent"
                if info is not None and _nullable(info.annotation) and not has_default:
                    assert "None" in str(kept_field.type), f"{where} may be null on the wire"
    for class_name, sent in sent_to.items():
        never = {f.name for f in dataclasses.fields(_DATACLASSES[class_name])} - sent
        assert not never, f"{class_name} expects {never}, which no answer it is built from sends"
    untyped = {
        call.operation for _, call in _sdk_calls(methods) if call.kind == "call" and not call.read and not call.built
    } - {name for name, model in ANSWERS.items() if not model.model_fields}
    assert untyped == set(UNTYPED), f"answers the SDK neither reads nor types: {untyped - set(UNTYPED)}"
    assert typed, "no result class was found"
