"""Users: login and logout, and Teaclave's rules for who may register, update, reset, delete and list whom.

Every object names users by id (file owners, task participants, uploaders,
function owners, creators, allowlists), so an id must never change hands: a
deleted user's row stays as a tombstone that can neither log in nor be
registered again. And no call gives anyone a login for another user: a reset
only locks the account; the user unlocks it with a one-time token that the
operator issues on the machine (``teabox admin reset-password``) and hands
over out of band; nobody sets another user's password.
"""

from __future__ import annotations

import hmac
import re
from collections.abc import Iterable
from typing import Any

from sqlalchemy import Connection, bindparam, select, update

from teabox.platform.auth import hash_password, new_token, token_hash, verify_password
from teabox.platform.context import Actor, Ctx, Resources, operation
from teabox.platform.errors import Invalid, NoSuchObject, NotAuthenticated, NotPermitted, StateConflict
from teabox.platform.models import Token, User
from teabox.platform.ordering import codepoint
from teabox.platform.roles import Role, RoleKind, may_manage, may_register, may_update, parse_role
from teabox.platform.timefmt import iso

_USER_ID = re.compile(r"^[A-Za-z0-9._@-]{1,64}$")


def check_user_id(user_id: str) -> str:
    if not _USER_ID.match(user_id):
        raise Invalid(
            f"'{user_id}' is not a valid user id: use 1-64 letters, digits, '.', '_', '-' or '@'", "invalid_user_id"
        )
    return user_id


def role_of(user: User) -> Role:
    return Role(RoleKind(user.role), user.attribute)


RESET_TOKEN_SECONDS = 24 * 3600.0


def get_user(ctx: Ctx, user_id: str) -> User:
    """A user who has not been deleted."""
    user = ctx.session.get(User, user_id)
    if user is None or user.deleted_at is not None:
        raise NoSuchObject(f"there is no user '{user_id}'", "unknown_user")
    return user


def unknown_users(ctx: Ctx, user_ids: Iterable[str]) -> list[str]:
    """Those of ``user_ids`` that name no live user (never registered, or deleted), sorted."""
    wanted = set(user_ids)
    if not wanted:
        return []
    live = set(ctx.session.scalars(select(User.id).where(User.id.in_(wanted), User.deleted_at.is_(None))))
    return sorted(wanted - live)


def create_user(ctx: Ctx, user_id: str, password_hash: str, role: Role, *, must_change_password: bool = False) -> User:
    check_user_id(user_id)
    existing = ctx.session.get(User, user_id)
    if existing is not None and existing.deleted_at is not None:
        raise StateConflict(
            f"the user id '{user_id}' belonged to a deleted user and is never given out again: choose another",
            "id_retired",
        )
    if existing is not None:
        raise StateConflict(f"a user '{user_id}' already exists", "already_exists")
    user = User(
        id=user_id,
        role=role.kind.value,
        attribute=role.attribute,
        password_hash=password_hash,
        must_change_password=must_change_password,
        created_at=ctx.now,
        updated_at=ctx.now,
    )
    ctx.session.add(user)
    return user


def revoke_tokens(ctx: Ctx, user_id: str, *, keep: str | None = None) -> None:
    query = update(Token).where(Token.user_id == user_id, Token.revoked_at.is_(None))
    if keep is not None:
        query = query.where(Token.token_hash != keep)
    ctx.session.execute(query.values(revoked_at=ctx.now))


def _lock(ctx: Ctx, user: User) -> None:
    """No password works and every session ends; only a reset token (or nothing, if deleted) opens it again."""
    user.password_hash, user.reset_token_hash, user.reset_expires_at = "", None, None
    user.updated_at = ctx.now
    revoke_tokens(ctx, user.id)


def issue_reset_token(ctx: Ctx, user_id: str) -> str:
    """Lock ``user_id`` and return a one-time token that lets its holder choose the account's next password.

    Only the operator calls this (``teabox admin reset-password``), on the machine: no API returns
    such a token, so no user can obtain a login for another.
    """
    user = get_user(ctx, user_id)
    _lock(ctx, user)
    token, hashed = new_token()
    user.reset_token_hash, user.reset_expires_at = hashed, ctx.now + RESET_TOKEN_SECONDS
    return token


def _verify_login(resources: Resources, params: dict[str, Any]) -> dict[str, Any]:
    """Check the password against the stored hash outside any transaction (argon2 takes tens of milliseconds).

    A deleted or locked user has no usable hash; the check still costs what a real one does.
    """
    user_id, password = params["user_id"], params["password"]
    with resources.database.reading() as connection:
        stored = connection.scalar(_PASSWORD_HASH, {"user_id": user_id})
    if not verify_password(stored or None, password):
        raise NotAuthenticated("the user id or password is wrong", "invalid_credentials")
    return {"user_id": user_id, "verified_hash": stored}


def _hash_new_password(_resources: Resources, params: dict[str, Any]) -> dict[str, Any]:
    """Replace a new password by its hash before the transaction opens (absent stays absent)."""
    prepared = dict(params)
    password = prepared.pop("password", None)
    prepared["password_hash"] = hash_password(password) if password is not None else None
    return prepared


_PASSWORD_HASH = select(User.password_hash).where(User.id == bindparam("user_id"), User.deleted_at.is_(None))


@operation("user_login", authenticated=False, prepare=_verify_login)
def user_login(ctx: Ctx, *, user_id: str, verified_hash: str) -> dict[str, Any]:
    ctx.object_id = user_id
    user = ctx.session.get(User, user_id)
    # Changed, locked or deleted since it was verified: the verified hash no longer opens it.
    if user is None or user.deleted_at is not None or not user.password_hash or user.password_hash != verified_hash:
        raise NotAuthenticated("the user id or password is wrong", "invalid_credentials")
    token, hashed = new_token()
    expires_at = ctx.now + ctx.settings.token_ttl_seconds
    ctx.session.add(Token(token_hash=hashed, user_id=user_id, created_at=ctx.now, expires_at=expires_at))
    return {"token": token, "expires_at": iso(expires_at)}


@operation("user_logout")
def user_logout(ctx: Ctx) -> dict[str, Any]:
    ctx.object_id = ctx.user.user_id
    ctx.session.execute(update(Token).where(Token.token_hash == ctx.user.token_hash).values(revoked_at=ctx.now))
    return {}


@operation("get_current_user")
def get_current_user(ctx: Ctx) -> dict[str, Any]:
    role = ctx.user.role
    return {
        "user_id": ctx.user.user_id,
        "role": role.kind.value,
        "attribute": role.attribute,
        "must_change_password": ctx.user.must_change_password,
    }


@operation("user_register", prepare=_hash_new_password)
def user_register(ctx: Ctx, *, user_id: str, password_hash: str, role: str, attribute: str = "") -> dict[str, Any]:
    ctx.object_id = user_id
    new_role = parse_role(role, attribute)
    if not may_register(ctx.user.role, new_role):
        raise NotPermitted(f"a {ctx.user.role.name} may not register a user with role {new_role.name}")
    # A manager knows the password it chose: the new user must replace it before doing anything else.
    create_user(ctx, user_id, password_hash, new_role, must_change_password=not ctx.user.role.is_admin)
    ctx.note = f"role {new_role.name}"
    return {}


def _managed_user(ctx: Ctx, user_id: str, what: str) -> User:
    ctx.object_id = user_id
    target = get_user(ctx, user_id)
    if not may_manage(ctx.user.role, role_of(target)):
        raise NotPermitted(f"a {ctx.user.role.name} may not {what} the user '{user_id}' ({role_of(target).name})")
    return target


@operation("user_update", prepare=_hash_new_password)
def user_update(
    ctx: Ctx, *, user_id: str, role: str, attribute: str = "", password_hash: str | None = None
) -> dict[str, Any]:
    ctx.object_id = user_id
    new_role = parse_role(role, attribute)
    target = get_user(ctx, user_id)
    if not may_update(ctx.user.role, role_of(target), new_role):
        raise NotPermitted(
            f"a {ctx.user.role.name} may not change the user '{user_id}' ({role_of(target).name}) to {new_role.name}"
        )
    if target.id == ctx.user.user_id and new_role != ctx.user.role:
        raise StateConflict("you may not change your own role", "self_change")
    if password_hash is not None and target.id != ctx.user.user_id:
        raise NotPermitted(
            f"only '{user_id}' may set their password (user_change_password); "
            "reset_user_password locks an account instead"
        )
    if password_hash is not None:
        target.password_hash = password_hash
    target.role, target.attribute, target.updated_at = new_role.kind.value, new_role.attribute, ctx.now
    revoke_tokens(ctx, user_id, keep=ctx.user.token_hash)
    ctx.note = f"role {new_role.name}"
    return {}


@operation("user_change_password", prepare=_hash_new_password)
def user_change_password(ctx: Ctx, *, password_hash: str) -> dict[str, Any]:
    ctx.object_id = ctx.user.user_id
    user = get_user(ctx, ctx.user.user_id)
    user.password_hash, user.updated_at = password_hash, ctx.now
    user.must_change_password = False
    revoke_tokens(ctx, user.id, keep=ctx.user.token_hash)
    return {}


@operation("reset_user_password")
def reset_user_password(ctx: Ctx, *, user_id: str) -> dict[str, Any]:
    """Lock the account: the caller learns no password; the operator issues the user a reset token."""
    if user_id == ctx.user.user_id:
        ctx.object_id = user_id
        raise StateConflict("you may not reset your own password; change it with user_change_password", "self_reset")
    _lock(ctx, _managed_user(ctx, user_id, "reset the password of"))
    return {"user_id": user_id, "locked": True}


@operation("user_redeem_reset", authenticated=False, prepare=_hash_new_password)
def user_redeem_reset(ctx: Ctx, *, user_id: str, reset_token: str, password_hash: str) -> dict[str, Any]:
    """Set a locked account's password with the one-time token the operator issued for it."""
    ctx.object_id = user_id
    user = ctx.session.get(User, user_id)
    expected = user.reset_token_hash if user is not None and user.deleted_at is None else None
    valid = (
        user is not None
        and expected is not None
        and hmac.compare_digest(expected, token_hash(reset_token))
        and (user.reset_expires_at or 0.0) > ctx.now
    )
    if not valid or user is None:
        raise NotAuthenticated("the user id or reset token is wrong, used or expired", "invalid_reset_token")
    user.password_hash, user.must_change_password = password_hash, False
    user.reset_token_hash, user.reset_expires_at, user.updated_at = None, None, ctx.now
    revoke_tokens(ctx, user_id)
    return {}


@operation("delete_user")
def delete_user(ctx: Ctx, *, user_id: str) -> dict[str, Any]:
    """Keep the row as a tombstone: its id stays taken, so nothing the user owned can pass to a new account."""
    if user_id == ctx.user.user_id:
        ctx.object_id = user_id
        raise StateConflict("you may not delete yourself", "self_delete")
    target = _managed_user(ctx, user_id, "delete")
    _lock(ctx, target)
    target.deleted_at = ctx.now
    return {}


@operation("list_users")
def list_users(ctx: Ctx, *, user_id: str | None = None) -> dict[str, Any]:
    role = ctx.user.role
    query = select(User.id).where(User.deleted_at.is_(None)).order_by(codepoint(User.id))
    if role.is_admin:
        pass
    elif role.kind is RoleKind.DATA_OWNER_MANAGER and user_id in (None, role.attribute):
        query = query.where(User.attribute == role.attribute)
    elif role.kind is RoleKind.DATA_OWNER_MANAGER:
        raise NotPermitted(f"a {role.name} may list only the users with attribute '{role.attribute}'")
    else:
        raise NotPermitted(f"a {role.name} may not list users")
    ctx.object_id = user_id
    return {"ids": list(ctx.session.scalars(query))}


# Built once: every request runs it, and building it would cost more than running it.
_TOKEN_OWNER = (
    select(User.id, User.role, User.attribute, User.must_change_password)
    .join(Token, Token.user_id == User.id)
    .where(Token.token_hash == bindparam("hashed"), Token.revoked_at.is_(None), Token.expires_at > bindparam("now"))
    .where(User.deleted_at.is_(None))
)


def actor_for_token(connection: Connection, hashed: str, now: float) -> Actor | None:
    """The user a live token belongs to: one indexed lookup on every request, so revocation takes effect at once."""
    row = connection.execute(_TOKEN_OWNER, {"hashed": hashed, "now": now}).first()
    if row is None:
        return None
    return Actor(row.id, Role(RoleKind(row.role), row.attribute), hashed, bool(row.must_change_password))
