"""Shared pieces of the authorisation tests: refusal checks, a payload that reads its inputs, raw calls, and the
rules tables of docs/platform.md parsed into rows."""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import wasmtime

from support.wat_imports import HOST_IMPORTS
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


# -- the rules tables of docs/platform.md ------------------------------------------------------

RULES_DOC = Path(__file__).resolve().parents[2] / "docs" / "platform.md"


def markdown_tables(text: str) -> list[list[dict[str, str]]]:
    """Every table in ``text`` as a list of rows, each a dict from column header to cell text."""
    tables: list[list[dict[str, str]]] = []
    block: list[list[str]] = []
    for line in [*text.splitlines(), ""]:
        if line.startswith("|"):
            block.append([cell.strip() for cell in line.strip().strip("|").split("|")])
            continue
        if len(block) >= 2:
            header, *rows = [row for row in block if not set("".join(row)) <= set("-: ")]
            tables.append([dict(zip(header, row, strict=True)) for row in rows])
        block = []
    return tables


def rules_table(*columns: str) -> list[dict[str, str]]:
    """The one table of the rules document whose header has all of ``columns``."""
    found = [t for t in markdown_tables(RULES_DOC.read_text()) if t and set(columns) <= set(t[0])]
    assert len(found) == 1, f"docs/platform.md must hold exactly one table with columns {columns}"
    return found[0]


def quoted(cell: str) -> list[str]:
    """The `code` spans of a cell, in order: API names, roles."""
    return re.findall(r"`([^`]+)`", cell)


@dataclass
class Caller:
    """One user's token against the service, making raw calls so a test sees status and code unaltered."""

    url: str
    user_id: str
    token: str | None

    def post(self, api: str, body: dict[str, Any]) -> httpx.Response:
        return rpc(self.url, self.token, api, body)

    def get(self, api: str, params: dict[str, str]) -> httpx.Response:
        return httpx.get(f"{self.url}/api/v1/{api}", params=params, headers=self._headers(), timeout=90.0)

    def upload(self, api: str, content: bytes, params: dict[str, str] | None = None) -> httpx.Response:
        return httpx.post(
            f"{self.url}/api/v1/{api}", params=params or {}, content=content, headers=self._headers(), timeout=90.0
        )

    def ok(self, api: str, **body: Any) -> dict[str, Any]:
        response = self.post(api, body)
        assert response.status_code == 200, f"{self.user_id} {api}: {response.status_code} {response.text}"
        answer: dict[str, Any] = response.json()
        return answer

    def _headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"} if self.token else {}


def log_in(url: str, user_id: str, password: str) -> Caller:
    response = rpc(url, None, "user_login", {"user_id": user_id, "password": password})
    assert response.status_code == 200, response.text
    return Caller(url, user_id, response.json()["token"])


def refusal(response: httpx.Response) -> tuple[int, str]:
    """(status, error code) of a response, ``(200, "")`` for a success."""
    if response.status_code == 200:
        return 200, ""
    return response.status_code, response.json()["error"]["code"]
