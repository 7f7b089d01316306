"""Registration of Teaclave's built-in functions: the name picks the bundled payload.

Teaclave's scripts register a built-in with ``executor_type="builtin"``, one of
its names and no payload. The platform stores the bundled module as the
function's payload, so from then on it is a function like any other: the
same checks, the same sandbox, the same limits.
"""

from __future__ import annotations

from teabox.builtins import BUILTINS, find
from teabox.platform.blobs import BlobStore
from teabox.platform.errors import MalformedRequest

BUILTIN_EXECUTOR = "builtin"


def builtin_payload(blobs: BlobStore, name: str, payload_id: str | None, payload: bytes | None) -> tuple[str, int]:
    """Store the bundled module of the built-in ``name``; returns its (sha256, size)."""
    if payload_id is not None or payload:
        raise MalformedRequest(
            f"a builtin function brings its own payload: register '{name}' without payload or payload_id",
            "invalid_payload",
        )
    builtin = find(name)
    if builtin is None:
        raise MalformedRequest(
            f"there is no built-in function named '{name}'; the built-ins are: {', '.join(sorted(BUILTINS))}",
            "unknown_builtin",
        )
    return blobs.put(builtin.payload())
