"""The platform in this process on either database, driven through its operations as the service drives it.

Tests of concurrency hold a transaction open in one thread while another call
runs, which needs the platform's objects at hand rather than a server across
HTTP. :func:`database_url` gives a test a fresh SQLite or PostgreSQL database for
``Storage.open``; :class:`InProcess` calls operations the way ``teabox serve`` does,
with bodies parsed by the service's own request schemas.
"""

from __future__ import annotations

import threading
from typing import Any

from support.databases import migrated_template
from support.platform_api import PASSWORD, ZERO_KEY, unique
from support.postgres import PostgresCluster
from teabox.platform.core import Platform
from teabox.service.schemas import ENDPOINTS, params_of

BACKENDS = ("sqlite", "postgres")
# A module that returns 7 from its entry point (what the worker would run; these tests never run it).
TRIVIAL_WASM = "AGFzbQEAAAABBwFgAn9/AX8DAgEABQMBAAEHFwIGbWVtb3J5AgAKZW50cnlwb2ludAAACgYBBABBBws="

_template_lock = threading.Lock()


def database_url(backend: str, cluster: PostgresCluster | None) -> str | None:
    """None for SQLite (the data directory's own file); a fresh migrated PostgreSQL database otherwise."""
    if backend == "sqlite":
        return None
    assert cluster is not None
    with _template_lock:  # threads of one test may ask at once; the template is made once
        template = migrated_template(cluster)
    return cluster.create_database(template=template)


class InProcess:
    """One user of a :class:`Platform`: ``user.call("create_task", ...)`` with the JSON body the API takes."""

    def __init__(self, platform: Platform, user_id: str, token: str | None) -> None:
        self.platform, self.user_id = platform, user_id
        self.actor = platform.authenticate(token) if token is not None else None

    def call(self, operation: str, /, **body: Any) -> dict[str, Any]:
        return self.platform.call(operation, self.actor, params_of(ENDPOINTS[operation].model_validate(body)))

    def on(self, platform: Platform) -> InProcess:
        """The same user, signed in, calling another platform process on the same database."""
        elsewhere = InProcess(platform, self.user_id, None)
        elsewhere.actor = self.actor
        return elsewhere

    def login(self, user_id: str) -> InProcess:
        token = InProcess(self.platform, user_id, None).call("user_login", user_id=user_id, password=PASSWORD)["token"]
        return InProcess(self.platform, user_id, token)

    def new_user(self, role: str) -> InProcess:
        """``role`` as the API takes it: ``"FunctionOwner"``, ``"DataOwner-org"``, ..."""
        user_id = unique(role[:4].lower())
        self.call("user_register", user_id=user_id, password=PASSWORD, role=role)
        return self.login(user_id)

    def function(self, inputs: tuple[str, ...] = (), outputs: tuple[str, ...] = (), **fields: Any) -> str:
        return self.call(
            "register_function",
            name="f",
            description="a function for concurrency tests",
            payload=TRIVIAL_WASM,
            inputs=[{"name": name, "description": ""} for name in inputs],
            outputs=[{"name": name, "description": ""} for name in outputs],
            **fields,
        )["function_id"]

    def task(
        self, function_id: str, inputs: dict[str, list[str]] | None = None, outputs: dict[str, list[str]] | None = None
    ) -> str:
        return self.call(
            "create_task",
            function_id=function_id,
            inputs_ownership=[{"data_name": n, "uids": u} for n, u in (inputs or {}).items()],
            outputs_ownership=[{"data_name": n, "uids": u} for n, u in (outputs or {}).items()],
        )["task_id"]

    def output_file(self) -> str:
        return self.call(
            "register_output_file",
            url=f"https://files.example/{unique('out')}",
            schema="aes-gcm-128",
            key=ZERO_KEY,
            iv="00" * 12,
        )["data_id"]


def platform_admin(platform: Platform) -> InProcess:
    admin_id = unique("admin")
    platform.create_admin(admin_id, PASSWORD)
    return InProcess(platform, admin_id, None).login(admin_id)
