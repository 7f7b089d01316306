"""The authorisation matrix, generated from the three rules tables of docs/platform.md and checked against a
running ``teabox serve``: every API × role, every user action × role, every object rule × (owner, another
user of each role, the admin), and every two-step chain of an allowed user action followed by an attempt on
the victim's login and data. Edit a table and these tests follow it; change the code and they catch the drift.
"""

from __future__ import annotations

import base64
import itertools
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from support.authz import Caller, log_in, quoted, reading_payload, refusal, rpc, rules_table

from teabox.service.schemas import ENDPOINTS
from teabox.testing.local_server import LocalServer

# Its tests share module-scoped servers: one pytest-xdist process runs them all, so each starts once.
pytestmark = pytest.mark.xdist_group("authz_matrix")

API_TABLE = rules_table("API", "PlatformAdmin")
USER_TABLE = rules_table("Action", "DataOwnerManager-X")
OBJECT_TABLE = rules_table("API", "owner", "another user", "admin")
ROLES = ("PlatformAdmin", "FunctionOwner", "DataOwner", "DataOwnerManager")
X, Y = "authz-x", "authz-y"  # the manager's attribute, and another
PASSWORD = "matrix password"
TAG = "22" * 16
_ids = itertools.count(1)


def _unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}-{next(_ids)}"


@dataclass
class World:
    server: LocalServer
    files_dir: Path
    admin: Caller
    users: dict[str, Caller] = field(default_factory=dict)

    @property
    def url(self) -> str:
        return self.server.url

    def new_user(self, role: str, attribute: str = "", *, by: Caller | None = None) -> Caller:
        user_id = _unique(role.lower())
        (by or self.admin).ok("user_register", user_id=user_id, password=PASSWORD, role=role, attribute=attribute)
        return log_in(self.url, user_id, PASSWORD)

    def user(self, name: str) -> Caller:
        """The module's standing users, made once: owners of objects, and the other users who attack them."""
        if name not in self.users:
            role, attribute = {
                "function_owner": ("FunctionOwner", ""),
                "data_owner": ("DataOwner", X),
                "co_owner": ("DataOwner", X),
                "other FunctionOwner": ("FunctionOwner", ""),
                "other DataOwner": ("DataOwner", X),
                "other DataOwnerManager": ("DataOwnerManager", X),
            }[name]
            self.users[name] = self.new_user(role, attribute)
        return self.users[name]


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    base = tmp_path_factory.mktemp("authz")
    files_dir = base / "files"
    files_dir.mkdir()
    server = LocalServer(base / "data", workers=0, extra_args=("--allow-file-dir", str(files_dir)))
    server.start()
    try:
        yield World(server, files_dir, log_in(server.url, server.admin_id, server.admin_password))
    finally:
        server.stop()


# -- every API × role ---------------------------------------------------------------------------


def _api_names() -> list[str]:
    return [name for row in API_TABLE for name in quoted(row["API"])]


def test_the_api_table_names_every_endpoint_once(world: World) -> None:
    served = httpx.get(f"{world.url}/openapi.json", timeout=30).json()["paths"]
    endpoints = {path.removeprefix("/api/v1/") for path in served} - {
        "health",
        "ready",
    }  # probes for load balancers: no token, no role
    # Worker endpoints take worker tokens, no user role: tests/service/test_worker_api_authz.py has their cells.
    endpoints = {name for name in endpoints if not name.startswith("worker/")}
    names = _api_names()
    assert len(names) == len(set(names)), "an API appears twice in the table"
    assert set(names) == endpoints


def _harmless_body(api: str) -> dict[str, Any]:
    """A body of the right shape whose values name nothing (so an allowed call stops at 404/409/422)."""
    body: dict[str, Any] = {}
    for name, info in ENDPOINTS[api].model_fields.items():
        if not info.is_required():
            continue
        key = info.alias or name
        annotation = str(info.annotation)
        body[key] = [] if "list" in annotation else "" if "bytes" in annotation else "x" if key == "password" else "!"
    return body


def _standing(world: World, role: str, *, fresh: bool = False) -> Caller:
    """One user per role for the whole module (a fresh one where the call would end its session)."""
    if role == "PlatformAdmin":
        return log_in(world.url, world.server.admin_id, world.server.admin_password) if fresh else world.admin
    attribute = X if "Data" in role else ""
    if fresh:
        return world.new_user(role, attribute)
    if role not in world.users:
        world.users[role] = world.new_user(role, attribute)
    return world.users[role]


def _call_any(caller: Caller, api: str) -> httpx.Response:
    if api in ("upload_file", "upload_payload"):
        return caller.upload(api, b"\0asm", {"name": "a"} if api == "upload_file" else None)
    if api in ("download_file", "download_payload"):
        return caller.get(api, {"url": "teabox://files/x/y"} if api == "download_file" else {"function_id": "!"})
    return caller.post(api, _harmless_body(api))


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("row", API_TABLE, ids=lambda row: row["API"].strip("`"))
def test_api_role_cell(world: World, row: dict[str, str], role: str) -> None:
    cell = row[role]
    for api in quoted(row["API"]):
        if cell == "anyone":
            status, code = refusal(_call_any(Caller(world.url, "nobody", None), api))
            assert code != "unauthenticated", f"{api} asks for a token: {status} {code}"
            continue
        response = _call_any(_standing(world, role, fresh=api == "user_logout"), api)
        by_role = response.status_code == 403 and "may not call" in response.json()["error"]["message"]
        assert by_role == (cell == "no"), f"{role} {api}: {response.status_code} {response.text}"


# -- user management: every action × role ----------------------------------------------------------

# the user table's columns -> the role that acts (the manager's attribute is X)
ACTORS = {"PlatformAdmin": "PlatformAdmin", "DataOwnerManager-X": "DataOwnerManager", "FunctionOwner": "FunctionOwner",
          "DataOwner": "DataOwner"}  # fmt: skip


def _role(spec: str) -> tuple[str, str]:
    kind, _, attribute = spec.partition("-")
    return kind, {"X": X, "Y": Y, "": ""}[attribute]


def _actor(world: World, column: str) -> Caller:
    return _standing(world, ACTORS[column])


def _user_cells() -> list[tuple[str, str, str]]:
    return [(row["Action"], column, row[column]) for row in USER_TABLE for column in ACTORS]


def _locked_out(world: World, target: Caller) -> bool:
    """The target's session has ended and its password no longer works."""
    session_over = refusal(target.post("get_current_user", {}))[0] == 401
    login = refusal(rpc(world.url, None, "user_login", {"user_id": target.user_id, "password": PASSWORD}))
    return session_over and login == (401, "invalid_credentials")


def _user_action(world: World, action: str, actor: Caller) -> tuple[bool, Caller | None]:
    """Carry out one row's action as ``actor``; (whether it was allowed, the user it was done to)."""
    verb, roles = action.split(" ", 1)[0], [_role(spec) for spec in quoted(action)]
    if verb == "register":
        user_id = _unique("new")
        body = {"user_id": user_id, "password": PASSWORD, "role": roles[0][0], "attribute": roles[0][1]}
        status, code = refusal(actor.post("user_register", body))
        assert status in (200, 403), (status, code)
        listed = user_id in world.admin.ok("list_users")["ids"]
        assert listed == (status == 200)
        return status == 200, None
    if verb == "set":
        target = world.new_user("DataOwner", X)
        body = {"user_id": target.user_id, "role": "DataOwner", "attribute": X, "password": "chosen by another"}
        status, _ = refusal(actor.post("user_update", body))
        assert status == 403 and target.ok("get_current_user")
        return False, target
    target = world.new_user(*roles[0])
    if verb == "change":
        status, _ = refusal(
            actor.post("user_update", {"user_id": target.user_id, "role": roles[1][0], "attribute": roles[1][1]})
        )
        assert status in (200, 403)
        if status == 200:
            assert log_in(world.url, target.user_id, PASSWORD).ok("get_current_user")["role"] == roles[1][0]
        else:
            assert target.ok("get_current_user")["role"] == roles[0][0]
        return status == 200, target
    assert verb == "reset"  # "reset or delete": both, on two targets
    second = world.new_user(*roles[0])
    reset, deleted = (
        actor.post("reset_user_password", {"user_id": target.user_id}),
        actor.post("delete_user", {"user_id": second.user_id}),
    )
    assert refusal(reset)[0] == refusal(deleted)[0] in (200, 403), (reset.text, deleted.text)
    if reset.status_code == 200:
        assert set(reset.json()) == {"user_id", "locked"}, "a reset must hand the resetter nothing to log in with"
        assert _locked_out(world, target) and _locked_out(world, second)
        again = {"user_id": second.user_id, "password": PASSWORD, "role": roles[0][0], "attribute": roles[0][1]}
        assert refusal(world.admin.post("user_register", again)) == (409, "id_retired")
    else:
        assert target.ok("get_current_user") and second.ok("get_current_user")
    return reset.status_code == 200, target


@pytest.mark.parametrize(("action", "column", "cell"), _user_cells())
def test_user_action_cell(world: World, action: str, column: str, cell: str) -> None:
    allowed, _ = _user_action(world, action, _actor(world, column))
    assert allowed == (cell == "yes"), f"{column} may {'not ' if cell == 'no' else ''}{action}"


# -- objects: every rule × (owner, another user of each role, the admin) ---------------------------------


def _wat() -> bytes:
    return reading_payload()


def _function_body(**fields: Any) -> dict[str, Any]:
    body = {"name": "f", "description": "", "executor_type": "wamr", "public": True}
    if "payload_id" not in fields:
        body["payload"] = base64.b64encode(_wat()).decode()
    return {**body, **fields}


def _private_function(world: World, **fields: Any) -> str:
    owner = world.user("function_owner")
    return str(owner.ok("register_function", **_function_body(public=False, **fields))["function_id"])


def _input(world: World) -> str:
    owner = world.user("data_owner")
    url = f"https://files.example/{_unique('in')}"
    key, cmac = "00" * 16, "11" * 16
    return str(
        owner.ok("register_input_file", url=url, schema="teaclave-file-128", key=key, iv="", cmac=cmac)["data_id"]
    )


def _output(world: World) -> str:
    owner = world.user("data_owner")
    url = f"https://files.example/{_unique('out')}"
    return str(owner.ok("register_output_file", url=url, schema="teaclave-file-128", key="00" * 16, iv="")["data_id"])


def _uploaded(world: World) -> str:
    response = world.user("data_owner").upload("upload_file", b"the owner's bytes", {"name": "data.bin"})
    assert response.status_code == 200, response.text
    return str(response.json()["url"])


def _task(world: World, *, bound: bool) -> str:
    function_id = world.user("function_owner").ok("register_function", **_function_body(inputs=[{"name": "in"}]))
    owner = world.user("data_owner")
    task_id = str(
        owner.ok(
            "create_task",
            function_id=function_id["function_id"],
            inputs_ownership=[{"data_name": "in", "uids": [owner.user_id]}],
        )["task_id"]
    )
    if bound:
        owner.ok("assign_data_to_task", task_id=task_id, inputs=[{"data_name": "in", "data_id": _input(world)}])
    return task_id


Request = Callable[[Caller], httpx.Response]


def _scenario(world: World, api: str, rule: str) -> tuple[Caller, Request]:
    """Objects for one rule, owned as the rule says, and the call on them any user can then make."""
    data_owner = world.user("data_owner")
    function_owner = world.user("function_owner")
    if api in ("update_function", "disable_function", "delete_function", "get_function", "get_function_usage_stats"):
        function_id = _private_function(world)
        extra = _function_body() if api == "update_function" else {}
        return function_owner, lambda c: c.post(api, {"function_id": function_id, **extra})
    if api == "download_payload":
        function_id = _private_function(world)
        return function_owner, lambda c: c.get(api, {"function_id": function_id})
    if api == "list_functions":
        return function_owner, lambda c: c.post(api, {"user_id": function_owner.user_id})
    if api == "register_function":
        payload = _wat() + b"\0" * (next(_ids) % 7)  # a payload of its own (trailing bytes do not count)
        uploaded = function_owner.upload("upload_payload", payload)
        payload_id = uploaded.json()["payload_id"]
        return function_owner, lambda c: c.post(api, _function_body(payload_id=payload_id))
    if api in ("register_input_file", "register_output_file"):
        crypto = {"schema": "teaclave-file-128", "key": "00" * 16, "iv": ""}
        crypto.update({"cmac": "11" * 16} if api == "register_input_file" else {})
        if "file://" in rule:
            url = f"file://{world.files_dir}/{_unique('path')}"
            data_owner.ok(api, url=url, **crypto)
        elif api == "register_input_file":
            url = _uploaded(world)
        else:
            url = data_owner.ok("reserve_file", name="out.bin")["url"]
        return data_owner, lambda c: c.post(api, {"url": url, **crypto})
    if api in ("get_input_file", "update_input_file"):
        data_id = _input(world)
        extra = {"url": f"https://files.example/{_unique('moved')}"} if api.startswith("update") else {}
        return data_owner, lambda c: c.post(api, {"data_id": data_id, **extra})
    if api in ("get_output_file", "update_output_file", "register_input_from_output"):
        data_id = _output(world)
        extra = {"url": f"https://files.example/{_unique('moved')}"} if api.startswith("update") else {}
        return data_owner, lambda c: c.post(api, {"data_id": data_id, **extra})
    if api == "accept_fusion_output":
        co_owner = world.user("co_owner")  # registers it, naming the owner
        fusion = co_owner.ok("register_fusion_output", owner_list=[co_owner.user_id, data_owner.user_id])["data_id"]
        return data_owner, lambda c: c.post(api, {"data_id": fusion})
    if api == "download_file":
        url = _uploaded(world)
        return data_owner, lambda c: c.get(api, {"url": url})
    if api == "create_task":
        function_id = _private_function(world, user_allowlist=[data_owner.user_id])
        return data_owner, lambda c: c.post(api, {"function_id": function_id})
    if api == "assign_data_to_task":
        task_id, data_id = _task(world, bound=False), _input(world)
        return data_owner, lambda c: c.post(
            api, {"task_id": task_id, "inputs": [{"data_name": "in", "data_id": data_id}]}
        )
    task_id = _task(world, bound=True)
    extra = {"tag": "in"} if api == "get_output_cmac_by_tag" else {"timeout": 0} if api == "get_task_result" else {}
    return data_owner, lambda c: c.post(api, {"task_id": task_id, **extra})


OTHERS = ("other FunctionOwner", "other DataOwner", "other DataOwnerManager")


def _object_cells() -> list[tuple[str, str, str, str]]:
    cells = []
    for row in OBJECT_TABLE:
        rule = row["API"]
        for api in quoted(rule):
            if api not in ENDPOINTS and api not in ("download_file", "download_payload"):
                continue  # a qualifier such as `payload_id` or `teabox://`
            cells.append((api, rule, "owner", row["owner"]))
            cells.extend((api, rule, other, row["another user"]) for other in OTHERS)
            cells.append((api, rule, "admin", row["admin"]))
    return cells


@pytest.mark.parametrize(("api", "rule", "who", "cell"), _object_cells())
def test_object_cell(world: World, api: str, rule: str, who: str, cell: str) -> None:
    owner, request = _scenario(world, api, rule)
    caller = owner if who == "owner" else world.admin if who == "admin" else world.user(who)
    status, code = refusal(request(caller))
    if cell == "yes":
        assert status not in (401, 403), f"{who} {api}: refused with {status} {code}"
    else:
        assert status == 403, f"{who} {api}: expected 403, got {status} {code}"


# -- two-step chains: an allowed user action, then the victim's login and data ------------------------------


def _allowed_user_actions() -> list[tuple[str, str]]:
    return [(action, column) for action, column, cell in _user_cells() if cell == "yes" and column != "PlatformAdmin"]


@pytest.mark.parametrize(("action", "column"), _allowed_user_actions())
def test_no_chain_reaches_another_users_data(world: World, action: str, column: str) -> None:
    attacker = _actor(world, column)
    victim = world.new_user("DataOwner", X)
    url = victim.upload("upload_file", b"the victim's secret", {"name": "secret.bin"}).json()["url"]
    key, cmac = "00" * 16, "11" * 16
    data_id = victim.ok("register_input_file", url=url, schema="teaclave-file-128", key=key, iv="", cmac=cmac)[
        "data_id"
    ]
    # step 1: the allowed action, aimed at the victim where it takes a user (and at a fresh user where not)
    verb = action.split(" ", 1)[0]
    recruits = [attacker]
    if verb == "register":
        allowed, _ = _user_action(world, action, attacker)
        assert allowed
        kind, attribute = _role(quoted(action)[0])
        recruit = world.new_user(kind, attribute, by=attacker)
        assert refusal(recruit.post("list_tasks", {})) == (403, "password_change_required")
        recruit.ok("user_change_password", password="the recruit's own")
        recruits.append(recruit)
    elif verb == "change":
        new_kind, new_attribute = _role(quoted(action)[1])
        victim_target = {"user_id": victim.user_id, "role": new_kind, "attribute": new_attribute}
        assert refusal(attacker.post("user_update", victim_target)) == (200, "")
        victim = log_in(world.url, victim.user_id, PASSWORD)
    else:
        assert refusal(attacker.post("reset_user_password", {"user_id": victim.user_id})) == (200, "")
    # step 2: nobody but the victim gets in, or at the data
    for password in (PASSWORD, "chosen by another"):
        if verb != "reset" and password == PASSWORD:
            continue  # the victim's own password still works for the victim; the attacker never learnt it
        login = rpc(world.url, None, "user_login", {"user_id": victim.user_id, "password": password})
        assert refusal(login) == (401, "invalid_credentials")
    for someone in recruits:
        assert refusal(someone.post("get_input_file", {"data_id": data_id}))[0] == 403
        assert refusal(someone.get("download_file", {"url": url}))[0] == 403
        steal = {"url": url, "schema": "teaclave-file-128", "key": key, "iv": "", "cmac": cmac}
        assert refusal(someone.post("register_input_file", steal))[0] == 403


def test_no_chain_through_the_attackers_own_objects_reaches_another_users_data(world: World) -> None:
    """Step 1 is what the object table allows an attacker on objects of its own that name the victim;
    step 2 tries to bind, register or read the victim's data through them."""
    attacker, victim = world.new_user("DataOwner", X), world.user("data_owner")
    victim_input, victim_url = _input(world), _uploaded(world)
    function_id = world.user("function_owner").ok(
        "register_function", **_function_body(inputs=[{"name": "in"}], outputs=[{"name": "out"}])
    )["function_id"]
    # a task of the attacker's that declares the victim's ownership: the victim's file still cannot be bound
    task_id = attacker.ok(
        "create_task",
        function_id=function_id,
        inputs_ownership=[{"data_name": "in", "uids": [victim.user_id]}],
        outputs_ownership=[{"data_name": "out", "uids": [attacker.user_id, victim.user_id]}],
    )["task_id"]
    bind = {"task_id": task_id, "inputs": [{"data_name": "in", "data_id": victim_input}]}
    assert refusal(attacker.post("assign_data_to_task", bind)) == (403, "forbidden")
    # a fusion output naming the victim: it cannot be used before the victim agrees
    fusion = attacker.ok("register_fusion_output", owner_list=[attacker.user_id, victim.user_id])["data_id"]
    bind = {"task_id": task_id, "outputs": [{"data_name": "out", "data_id": fusion}]}
    assert refusal(attacker.post("assign_data_to_task", bind)) == (409, "consent_pending")
    # a record of the attacker's at the victim's URL: refused, so download_file stays closed too
    crypto = {"schema": "teaclave-file-128", "key": "00" * 16, "iv": "", "cmac": "11" * 16}
    assert refusal(attacker.post("register_input_file", {"url": victim_url, **crypto}))[0] == 403
    assert refusal(attacker.get("download_file", {"url": victim_url}))[0] == 403
    # and the task the attacker created reveals nothing of the victim's file
    assert refusal(attacker.post("get_input_file", {"data_id": victim_input}))[0] == 403
    assert victim.ok("get_task", task_id=task_id)["assigned_inputs"] == []
