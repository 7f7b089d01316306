"""Roles and who may call what.

Two layers, as in Teaclave: :data:`API_ROLES` says which role kinds may call
an API at all (the admin may call every API), and the object-level rules in
each domain module say whether *this* caller may act on *this* object. The
user-management rules (who may register, update, reset, delete and list whom)
live here because they depend only on the two users' roles.

Changes from Teaclave, each fixing a fault it had: a FunctionOwner may read and
approve the tasks it takes part in (as owner of a private function it is a
participant and must approve, which Teaclave's API table did not allow); a
DataOwnerManager may update or delete only users that are DataOwners of its
own attribute (not merely *turn* a user into one); only the admin may register
a DataOwnerManager (Teaclave let any FunctionOwner register one of any
attribute, which could then take over that attribute's DataOwners).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

from teabox.platform.errors import Invalid, NotPermitted


class RoleKind(StrEnum):
    PLATFORM_ADMIN = "PlatformAdmin"
    FUNCTION_OWNER = "FunctionOwner"
    DATA_OWNER = "DataOwner"
    DATA_OWNER_MANAGER = "DataOwnerManager"


_WITH_ATTRIBUTE = {RoleKind.DATA_OWNER, RoleKind.DATA_OWNER_MANAGER}
_ATTRIBUTE = re.compile(r"^[A-Za-z0-9._@-]{1,128}$")


@dataclass(frozen=True)
class Role:
    kind: RoleKind
    attribute: str = ""

    @property
    def name(self) -> str:
        return f"{self.kind.value}-{self.attribute}" if self.kind in _WITH_ATTRIBUTE else self.kind.value

    @property
    def is_admin(self) -> bool:
        return self.kind is RoleKind.PLATFORM_ADMIN


def parse_role(role: str, attribute: str = "") -> Role:
    """Accept ``("DataOwner", "X")`` or ``("DataOwner-X", "")``; refuse anything else by name."""
    kind_name, dash, embedded = role.partition("-")
    if dash and attribute and embedded != attribute:
        raise Invalid(f"role '{role}' and attribute '{attribute}' disagree", "invalid_role")
    attribute = attribute or embedded
    try:
        kind = RoleKind(kind_name)
    except ValueError:
        known = ", ".join(k.value for k in RoleKind)
        raise Invalid(
            f"'{role}' is not a role; roles are {known} (the last two with an attribute)", "invalid_role"
        ) from None
    if kind in _WITH_ATTRIBUTE:
        if not _ATTRIBUTE.match(attribute):
            raise Invalid(
                f"role {kind.value} needs an attribute of 1-128 letters, digits, '.', '_', '-' or '@'", "invalid_role"
            )
    elif attribute:
        raise Invalid(f"role {kind.value} takes no attribute (got '{attribute}')", "invalid_role")
    return Role(kind, attribute)


_DATA = frozenset({RoleKind.DATA_OWNER, RoleKind.DATA_OWNER_MANAGER})
_FUNC = frozenset({RoleKind.FUNCTION_OWNER})
_ALL = frozenset(RoleKind)
_NONE: frozenset[RoleKind] = frozenset()

# API name -> role kinds allowed to call it (PlatformAdmin may call everything). The operations that need
# no token (user_login, user_redeem_reset) have no caller to check: their registration says so, not this table.
API_ROLES: dict[str, frozenset[RoleKind]] = {
    # every authenticated user; object-level rules decide the rest
    "user_logout": _ALL,
    "user_change_password": _ALL,
    "get_current_user": _ALL,
    "user_register": _ALL,
    "user_update": _ALL,
    "reset_user_password": _ALL,
    "delete_user": _ALL,
    "list_users": _ALL,
    # functions
    "upload_payload": _FUNC,
    "register_function": _FUNC,
    "update_function": _FUNC,
    "delete_function": _FUNC,
    "disable_function": _FUNC,
    "get_function": _FUNC | _DATA,
    "download_payload": _FUNC | _DATA,
    "list_functions": _FUNC | _DATA,
    "get_function_usage_stats": _FUNC | _DATA,
    # files
    "upload_file": _DATA,
    "reserve_file": _DATA,
    "download_file": _DATA,
    "register_input_file": _DATA,
    "register_output_file": _DATA,
    "update_input_file": _DATA,
    "update_output_file": _DATA,
    "register_fusion_output": _DATA,
    "accept_fusion_output": _DATA,
    "register_input_from_output": _DATA,
    "get_input_file": _DATA,
    "get_output_file": _DATA,
    "list_files": _DATA,
    # tasks
    "create_task": _DATA,
    "assign_data_to_task": _DATA,
    "approve_task": _DATA | _FUNC,
    "invoke_task": _DATA,
    "cancel_task": _DATA,
    "get_task": _DATA | _FUNC,
    "get_task_result": _DATA | _FUNC,
    "get_output_cmac_by_tag": _DATA | _FUNC,
    "list_tasks": _DATA | _FUNC,
    # admin only
    "query_audit_logs": _NONE,
    "get_queue_stats": _NONE,
}


# What a user registered by someone else may do before replacing the password that someone chose.
BEFORE_PASSWORD_CHANGE = frozenset({"user_change_password", "user_logout", "get_current_user"})


def check_api(role: Role, api: str, *, must_change_password: bool = False) -> None:
    if must_change_password and api not in BEFORE_PASSWORD_CHANGE:
        raise NotPermitted(
            "you were registered with a password another user chose: change it (user_change_password) first",
            "password_change_required",
        )
    if role.is_admin or role.kind in API_ROLES[api]:
        return
    raise NotPermitted(f"role {role.name} may not call {api}")


def may_register(actor: Role, new: Role) -> bool:
    if actor.is_admin:
        return True
    return actor.kind is RoleKind.DATA_OWNER_MANAGER and new == Role(RoleKind.DATA_OWNER, actor.attribute)


def may_manage(actor: Role, target: Role) -> bool:
    """Whether ``actor`` may reset the password of, delete, or update a user whose role is ``target``."""
    if actor.is_admin:
        return True
    return actor.kind is RoleKind.DATA_OWNER_MANAGER and target == Role(RoleKind.DATA_OWNER, actor.attribute)


def may_update(actor: Role, target: Role, new: Role) -> bool:
    return may_manage(actor, target) and (actor.is_admin or new == Role(RoleKind.DATA_OWNER, actor.attribute))
