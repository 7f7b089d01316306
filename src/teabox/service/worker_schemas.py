"""Bodies and answers of the worker endpoints (:mod:`teabox.service.worker_api`).

The task and the outcome travel as the very dataclasses the embedded worker
passes around (:mod:`teabox.platform.staged`), with bytes (keys, IVs, tags,
cmacs) as hex, so the HTTP worker and the direct one see the same objects.
Bodies are parsed from their JSON text (hex decoding is a JSON-mode rule)
with the same strictness as every other body: unknown fields, wrong types and
text or numbers the platform cannot store are refused with 400 naming them.
"""

from __future__ import annotations

import json
from typing import Annotated, TypeVar

from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from pydantic_core import PydanticCustomError

from teabox.platform.errors import MalformedRequest
from teabox.platform.staged import Outcome, StagedTask
from teabox.service.schemas import check_json

_HEX = ConfigDict(ser_json_bytes="hex", val_json_bytes="hex")
# The worker's own name for itself; the service prefixes it with the worker token's id.
WorkerName = Annotated[str, Field(pattern=r"^[A-Za-z0-9._-]{1,96}$")]
TaskId = Annotated[str, Field(min_length=1, max_length=64)]
# The longest a claim may wait for a task to be staged, whatever the worker asks.
MAX_CLAIM_WAIT_SECONDS = 20.0


class WorkerRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, **_HEX)

    worker: WorkerName


Body = TypeVar("Body", bound=WorkerRequest)


def parse(model: type[Body], body: bytes) -> Body:
    """``body`` (JSON text) as ``model``; refusals are the same 400s as every other body's."""
    try:
        data = json.loads(body)
    except (ValueError, RecursionError) as exc:
        raise MalformedRequest(f"the request body is not valid JSON: {exc}", "malformed_json") from None
    if not isinstance(data, dict):
        raise MalformedRequest("the request body must be a JSON object")
    try:
        check_json(data)
        return model.model_validate_json(body)
    except PydanticCustomError as exc:
        raise MalformedRequest(f"invalid request: {exc.message()}") from None
    except ValidationError as exc:
        raise RequestValidationError(exc.errors(include_url=False)) from None


class Claim(WorkerRequest):
    lease_seconds: Annotated[float, Field(ge=1.0, le=300.0)]
    wait: Annotated[float, Field(ge=0.0, le=MAX_CLAIM_WAIT_SECONDS)] = 0.0


class Run(WorkerRequest):
    task_id: TaskId
    attempt: Annotated[int, Field(ge=1)]


class Finish(Run):
    outcome: Outcome


class Claimed(BaseModel):
    """The task claimed (with its files' keys: the worker holds it from now on), or null after the wait."""

    model_config = _HEX

    task: StagedTask | None


class Identity(BaseModel):
    token_id: str
    name: str


class Held(BaseModel):
    held: bool  # false: stop, the task was canceled or its lease passed to another worker


class WritesBegun(BaseModel):
    refused: str | None  # why the run must publish nothing, or null to go ahead


class Recorded(BaseModel):
    recorded: bool  # false: the outcome was refused; withdraw what was published


class Stored(BaseModel):
    sha256: str
    size: int


class Unlinked(BaseModel):
    url: str
