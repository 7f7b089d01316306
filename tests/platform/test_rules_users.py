"""Who may register, update, reset, delete and list whom: every cell of the table, denials included."""

from __future__ import annotations

import pytest
from platform_support import PASSWORD, Api, unique

# (actor role, actor attribute) -> the roles it may register
ACTORS = {
    "admin": ("PlatformAdmin", ""),
    "manager": ("DataOwnerManager", "org"),
    "function_owner": ("FunctionOwner", ""),
    "data_owner": ("DataOwner", "org"),
}
NEW_ROLES = {
    "PlatformAdmin": ("PlatformAdmin", ""),
    "FunctionOwner": ("FunctionOwner", ""),
    "DataOwner-org": ("DataOwner", "org"),
    "DataOwner-other": ("DataOwner", "other"),
    "DataOwnerManager-org": ("DataOwnerManager", "org"),
    "DataOwnerManager-other": ("DataOwnerManager", "other"),
}
MAY_REGISTER = {
    "admin": set(NEW_ROLES),
    "manager": {"DataOwner-org"},
    "function_owner": set(),
    "data_owner": set(),
}


def actor(admin: Api, name: str) -> Api:
    role, attribute = ACTORS[name]
    return admin if name == "admin" else admin.new_user(role, attribute)


@pytest.mark.parametrize("actor_name", list(ACTORS))
@pytest.mark.parametrize("new_role", list(NEW_ROLES))
def test_register(admin: Api, actor_name: str, new_role: str) -> None:
    me = actor(admin, actor_name)
    role, attribute = NEW_ROLES[new_role]
    body = {"user_id": unique("r"), "password": PASSWORD, "role": role, "attribute": attribute}
    if new_role in MAY_REGISTER[actor_name]:
        me.call("user_register", **body)
        assert me.login(body["user_id"]).call("get_current_user") == {
            "user_id": body["user_id"],
            "role": role,
            "attribute": attribute,
        }
    else:
        me.refused("user_register", 403, "forbidden", **body)
        admin.refused("reset_user_password", 404, "unknown_user", user_id=body["user_id"])


# target role -> whether (admin, manager-org, function owner, data owner) may reset / delete / update it
TARGETS = {
    "DataOwner-org": {"admin": True, "manager": True, "function_owner": False, "data_owner": False},
    "DataOwner-other": {"admin": True, "manager": False, "function_owner": False, "data_owner": False},
    "DataOwnerManager-org": {"admin": True, "manager": False, "function_owner": False, "data_owner": False},
    "FunctionOwner": {"admin": True, "manager": False, "function_owner": False, "data_owner": False},
    "PlatformAdmin": {"admin": True, "manager": False, "function_owner": False, "data_owner": False},
}


@pytest.mark.parametrize("actor_name", list(ACTORS))
@pytest.mark.parametrize("target_role", list(TARGETS))
def test_reset_password(admin: Api, actor_name: str, target_role: str) -> None:
    me = actor(admin, actor_name)
    target = admin.new_user(*NEW_ROLES[target_role])
    if TARGETS[target_role][actor_name]:
        answer = me.call("reset_user_password", user_id=target.user_id)
        assert answer == {"user_id": target.user_id, "locked": True}  # no password, no token for the resetter
        target.refused("get_current_user", 401, "invalid_token")  # the old token is revoked
        admin.refused("user_login", 401, "invalid_credentials", user_id=target.user_id, password=PASSWORD)
    else:
        me.refused("reset_user_password", 403, "forbidden", user_id=target.user_id)
        target.call("get_current_user")


@pytest.mark.parametrize("actor_name", list(ACTORS))
@pytest.mark.parametrize("target_role", list(TARGETS))
def test_delete(admin: Api, actor_name: str, target_role: str) -> None:
    me = actor(admin, actor_name)
    target = admin.new_user(*NEW_ROLES[target_role])
    if TARGETS[target_role][actor_name]:
        me.call("delete_user", user_id=target.user_id)
        target.refused("get_current_user", 401, "invalid_token")
        admin.refused("user_login", 401, "invalid_credentials", user_id=target.user_id, password=PASSWORD)
    else:
        me.refused("delete_user", 403, "forbidden", user_id=target.user_id)
        target.call("get_current_user")


@pytest.mark.parametrize("actor_name", list(ACTORS))
@pytest.mark.parametrize("target_role", list(TARGETS))
@pytest.mark.parametrize("new_role", ["DataOwner-org", "DataOwnerManager-org"])
def test_update(admin: Api, actor_name: str, target_role: str, new_role: str) -> None:
    me = actor(admin, actor_name)
    target = admin.new_user(*NEW_ROLES[target_role])
    role, attribute = NEW_ROLES[new_role]
    body = {"user_id": target.user_id, "role": role, "attribute": attribute}
    allowed = TARGETS[target_role][actor_name] and (actor_name == "admin" or new_role == "DataOwner-org")
    if allowed:
        # nobody sets another user's password
        me.refused("user_update", 403, "forbidden", **body, password="another password")
        me.call("user_update", **body)
        assert admin.login(target.user_id).call("get_current_user")["role"] == role
    else:
        me.refused("user_update", 403, "forbidden", **body)
        assert target.call("get_current_user")["role"] == NEW_ROLES[target_role][0]


def test_list_users(admin: Api) -> None:
    manager = admin.new_user("DataOwnerManager", "listing")
    member = manager.new_user("DataOwner", "listing")
    outsider = admin.new_user("DataOwner", "elsewhere")
    everyone = admin.call("list_users")["ids"]
    assert {manager.user_id, member.user_id, outsider.user_id, "admin"} <= set(everyone)
    assert manager.call("list_users")["ids"] == sorted([manager.user_id, member.user_id])
    assert manager.call("list_users", user_id="listing")["ids"] == sorted([manager.user_id, member.user_id])
    manager.refused("list_users", 403, "forbidden", user_id="elsewhere")
    member.refused("list_users", 403, "forbidden")
    admin.new_user("FunctionOwner").refused("list_users", 403, "forbidden")


def test_everyone_may_change_their_own_password_and_log_out(admin: Api) -> None:
    for role, attribute in ACTORS.values():
        if role == "PlatformAdmin":
            continue
        me = admin.new_user(role, attribute)
        other_session = admin.login(me.user_id)
        me.call("user_change_password", password="a brand new one")
        other_session.refused("get_current_user", 401, "invalid_token")
        me.call("get_current_user")  # the session that changed it stays valid
        me.call("user_logout")
        me.refused("get_current_user", 401, "invalid_token")
        admin.login(me.user_id, "a brand new one")


def test_admin_may_not_delete_or_reset_itself(admin: Api, server: object) -> None:
    admin.refused("delete_user", 409, "self_delete", user_id=admin.user_id)
    admin.refused("reset_user_password", 409, "self_reset", user_id=admin.user_id)


def test_roles_and_passwords_are_validated(admin: Api) -> None:
    base = {"user_id": unique("v"), "password": PASSWORD}
    admin.refused("user_register", 422, "invalid_role", **base, role="Superuser")
    admin.refused("user_register", 422, "invalid_role", **base, role="DataOwner")
    admin.refused("user_register", 422, "invalid_role", **base, role="FunctionOwner", attribute="x")
    admin.refused(
        "user_register", 422, "invalid_password", user_id=base["user_id"], password="short", role="FunctionOwner"
    )
    admin.refused("user_register", 422, "invalid_user_id", user_id="bad id/", password=PASSWORD, role="FunctionOwner")
    admin.call("user_register", **base, role="DataOwner-team")
    assert admin.login(base["user_id"]).call("get_current_user")["attribute"] == "team"
    admin.refused("user_register", 409, "already_exists", **base, role="FunctionOwner")
