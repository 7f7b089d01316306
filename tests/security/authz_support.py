"""Shared pieces of the authorisation tests: refusal checks, a payload that reads its inputs, and raw calls."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import wasmtime
from wat_imports import HOST_IMPORTS

from teabox.client.errors import ApiError


@contextlib.contextmanager
def refused(kind: type[ApiError], code: str) -> Iterator[None]:
    """The SDK call inside must be refused with ``kind`` (its HTTP status) and this error code."""
    with pytest.raises(kind) as caught:
        yield
    assert caught.value.code == code, f"expected code {code}, got {caught.value}"
    assert caught.value.message, "every refusal names what was wrong"


def reading_payload(*names: str) -> bytes:
    """A module that opens each named input, reads it to the end, and returns 0."""
    data, calls, offset = [], [], 0
    for name in names:
        data.append(f'(data (i32.const {offset}) "{name}\\00")')
        calls.append(f"(call $drain (i32.const {offset}))")
        offset += len(name.encode()) + 1
    text = f"""(module {HOST_IMPORTS}
 (memory (export "memory") 1)
 {" ".join(data)}
 (func $drain (param $name i32) (local $h i32)
  (local.set $h (call $open (local.get $name)))
  (block $done (loop $next
   (br_if $done (i32.le_s (call $read (local.get $h) (i32.const 4096) (i32.const 4096)) (i32.const 0)))
   (br $next)))
  (drop (call $close (local.get $h))))
 (func (export "entrypoint") (param i32 i32) (result i32) {" ".join(calls)} (i32.const 0)))"""
    return bytes(wasmtime.wat2wasm(text))


def rpc(url: str, token: str | None, api: str, body: dict[str, Any]) -> httpx.Response:
    """One JSON call as any HTTP client would make it, so a test sees the status and error code unaltered."""
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return httpx.post(f"{url}/api/v1/{api}", json=body, headers=headers, timeout=90.0)
