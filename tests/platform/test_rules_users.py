"""Listing users, own passwords and input checks. Who may register, update, reset and delete whom is checked
cell by cell against the table in docs/platform.md by tests/security/test_authz_matrix.py."""

from __future__ import annotations

from support.platform_api import PASSWORD, Api, unique

ACTORS = {
    "admin": ("PlatformAdmin", ""),
    "manager": ("DataOwnerManager", "org"),
    "function_owner": ("FunctionOwner", ""),
    "data_owner": ("DataOwner", "org"),
}


def test_list_users(admin: Api) -> None:
    manager = admin.new_user("DataOwnerManager", "listing")
    member = manager.new_user("DataOwner", "listing")
    member.call("user_change_password", password="the member's own")
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


def test_admin_may_not_delete_or_reset_itself(admin: Api) -> None:
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
