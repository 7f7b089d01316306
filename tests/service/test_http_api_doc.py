"""``docs/http-api.md`` against the service's ``/openapi.json``.

The reference at the end of the page is generated from the description (``support.api_reference``) and must
be what the generator writes today. The hand-written tables above it explain the operations: each operation
they name must exist, every operation must be explained in one, and every field name they quote must be a
field of that operation's request or answer.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from support.api_reference import BEGIN, END, reference, served_openapi

from teabox.platform.context import OPERATIONS
from teabox.service.call_audit import PREFIX
from teabox.teaclave_status import TeaclaveTaskStatus

DOC = Path(__file__).resolve().parents[2] / "docs" / "http-api.md"
_REF = "#/components/schemas/"
# A quoted key of the page's JSON sketches: after "{" or ",", before ",", ":" or "}".
_KEY = re.compile(r'(?<=[{,])\s*"(\w+)"\s*(?=[,:}])')


@pytest.fixture(scope="module")
def openapi() -> dict[str, Any]:
    return served_openapi()


@pytest.fixture(scope="module")
def page() -> str:
    return DOC.read_text()


def _explained(page: str) -> dict[str, str]:
    """operation -> the rest of its row, from the hand-written tables (the reference left out)."""
    hand = page[: page.index(BEGIN)] + page[page.index(END) :]
    rows: dict[str, str] = {}
    for line in hand.splitlines():
        match = re.match(r"\| `(?:(?:GET|POST) )?(?:/api/v1/)?(\w+)[^`]*`([^|]*)\|(.*)", line)
        if match and not line.startswith("| `--"):
            assert match.group(1) not in rows, f"{match.group(1)} is explained twice"
            rows[match.group(1)] = match.group(3)
    return rows


def _fields(schema: dict[str, Any], schemas: dict[str, Any], seen: set[str] | None = None) -> set[str]:
    """Every property name reachable from ``schema``."""
    seen = set() if seen is None else seen
    found: set[str] = set()
    ref = schema.get("$ref")
    if ref:
        name = ref.removeprefix(_REF)
        if name in seen:
            return found
        seen.add(name)
        return _fields(schemas[name], schemas, seen)
    for key, value in schema.items():
        if key == "properties":
            found |= set(value)
            for child in value.values():
                found |= _fields(child, schemas, seen)
        elif isinstance(value, dict):
            found |= _fields(value, schemas, seen)
        elif isinstance(value, list):
            for item in value:
                if isinstance(item, dict):
                    found |= _fields(item, schemas, seen)
    return found


def test_the_reference_is_what_the_service_describes(openapi: dict[str, Any], page: str) -> None:
    written = page[page.index(BEGIN) : page.index(END) + len(END)]
    assert written == reference(openapi), (
        "docs/http-api.md's reference is out of date: cd tests && PYTHONPATH=../src "
        "python -m support.api_reference ../docs/http-api.md"
    )


def test_every_operation_is_explained_and_every_explained_one_exists(page: str) -> None:
    explained = set(_explained(page))
    probes = {"health", "ready"}  # explained in prose, under Health
    assert explained - set(OPERATIONS) == set(), "the page explains operations the service does not have"
    assert set(OPERATIONS) - explained == set(), "operations the page's tables do not explain"
    assert all(f"{PREFIX}/{probe}" in page for probe in probes)


def test_every_quoted_field_is_a_field_of_its_operation(openapi: dict[str, Any], page: str) -> None:
    schemas = openapi["components"]["schemas"]
    for name, row in _explained(page).items():
        ((_, entry),) = openapi["paths"][f"{PREFIX}/{name}"].items()
        real = _fields(entry.get("requestBody", {}), schemas) | _fields(entry["responses"]["200"], schemas)
        real |= {p["name"] for p in entry.get("parameters", [])}
        quoted = set(_KEY.findall(row))
        assert quoted <= real, f"{name}: the page quotes {quoted - real}, which {name} neither takes nor answers"


def test_the_status_numbers_in_the_docs_are_teaclaves(page: str) -> None:
    """Both lists of the numbers in the docs: this page's conventions and platform.md's table of states."""
    teaclave = {status.name: status.value for status in TeaclaveTaskStatus}
    conventions = page.split("**Task status**", 1)[1].split("\n\n", 1)[0]
    assert {name: int(number) for name, number in re.findall(r"`(\w+)`=(\d+)", conventions)} == teaclave
    states = (DOC.parent / "platform.md").read_text().split("## Task states", 1)[1].split("```", 1)[0]
    assert {name: int(number) for name, number in re.findall(r"\| `(\w+)` \((\d+)\) \|", states)} == teaclave
