"""The operation reference of ``docs/http-api.md``, written from the service's ``/openapi.json``.

The reference sits between two markers in the document; the test ``tests/service/test_http_api_doc.py``
regenerates it and fails when the document differs. After changing the API, rewrite it with::

    cd tests && PYTHONPATH=../src python -m support.api_reference ../docs/http-api.md
"""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path
from typing import Any

from teabox.platform.core import Platform
from teabox.platform.storage import Storage
from teabox.service.app import create_app
from teabox.service.call_audit import PREFIX

BEGIN = "<!-- operation reference: generated from /openapi.json by tests/support/api_reference.py -->"
END = "<!-- end of the operation reference -->"
_REF = "#/components/schemas/"


def served_openapi() -> dict[str, Any]:
    """The description the service serves, from an app on a throw-away data directory."""
    with tempfile.TemporaryDirectory(prefix="teabox-openapi-") as data_dir:
        storage = Storage.open(Path(data_dir))
        try:
            return create_app(Platform(storage)).openapi()
        finally:
            storage.close()


def reference(openapi: dict[str, Any]) -> str:
    """The reference: one row per route, then the shapes its fields name."""
    schemas = openapi["components"]["schemas"]
    named: list[str] = []
    lines = [
        BEGIN,
        "",
        "| operation | token | request | answer (200) | refusals |",
        "|---|---|---|---|---|",
    ]
    for path, entries in openapi["paths"].items():
        for method, entry in entries.items():
            name = path.removeprefix(f"{PREFIX}/")
            token = "yes" if entry.get("security") else "no"
            request = _request(method, entry, schemas, named)
            answer = _answer(entry["responses"], schemas, named)
            refusals = ", ".join(status for status in entry["responses"] if int(status) >= 400)
            lines.append(f"| `{method.upper()} {name}` | {token} | {request} | {answer} | {refusals or '–'} |")
    lines += ["", "Shapes named above:", "", "| shape | fields |", "|---|---|"]
    done: set[str] = set()
    while named:
        shape = named.pop(0)
        if shape in done:
            continue
        done.add(shape)
        lines.append(f"| `{shape}` | {_shape(schemas[shape], schemas, named)} |")
    lines += ["", END]
    return "\n".join(lines)


def _request(method: str, entry: dict[str, Any], schemas: dict[str, Any], named: list[str]) -> str:
    parts = [f"`?{p['name']}`" for p in entry.get("parameters", []) if p["in"] == "query"]
    body = entry.get("requestBody", {}).get("content", {})
    if "application/json" in body:
        parts.append(_fields(_resolve(body["application/json"]["schema"], schemas), schemas, named))
    elif body:
        parts.append("raw bytes")
    return " ".join(parts) if parts else ("–" if method == "get" else "`{}`")


def _answer(answers: dict[str, Any], schemas: dict[str, Any], named: list[str]) -> str:
    content = answers["200"]["content"]
    if "application/json" not in content:
        redirect = " (or 307 to `Location`)" if "307" in answers else ""
        return "raw bytes" + redirect
    return _fields(_resolve(content["application/json"]["schema"], schemas), schemas, named)


def _shape(schema: dict[str, Any], schemas: dict[str, Any], named: list[str]) -> str:
    if "enum" in schema:
        return "one of " + ", ".join(f"`{json.dumps(value)}`" for value in schema["enum"])
    return _fields(schema, schemas, named)


def _resolve(schema: dict[str, Any], schemas: dict[str, Any]) -> dict[str, Any]:
    ref = schema.get("$ref")
    return schemas[ref.removeprefix(_REF)] if ref else schema


def _fields(schema: dict[str, Any], schemas: dict[str, Any], named: list[str]) -> str:
    required = set(schema.get("required", []))
    parts = []
    for field, spec in schema.get("properties", {}).items():
        text = f"{field}: {_type(spec, named)}"
        if "default" in spec:
            text += f" = {json.dumps(spec['default'])}"
        elif field not in required:
            text += " (optional)"
        parts.append(text)
    return "`{" + ", ".join(parts) + "}`" if parts else "`{}`"


def _type(spec: dict[str, Any], named: list[str]) -> str:
    if "$ref" in spec:
        name = str(spec["$ref"]).removeprefix(_REF)
        named.append(name)
        return name
    if "anyOf" in spec:
        return " or ".join(_type(option, named) for option in spec["anyOf"])
    kind = spec.get("type", "any")
    if kind == "array":
        return f"[{_type(spec.get('items', {}), named)}]"
    if kind == "object":
        values = spec.get("additionalProperties")
        return f"{{string: {_type(values, named)}}}" if isinstance(values, dict) and values else "object"
    if "enum" in spec:
        return " or ".join(json.dumps(value) for value in spec["enum"])
    return str(kind)


def replace_reference(document: str, generated: str) -> str:
    """``document`` with the text between the markers replaced by ``generated``."""
    start, end = document.index(BEGIN), document.index(END) + len(END)
    return document[:start] + generated + document[end:]


if __name__ == "__main__":
    target = Path(sys.argv[1])
    target.write_text(replace_reference(target.read_text(), reference(served_openapi())))
