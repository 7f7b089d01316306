"""Users: login and logout, and Teaclave's rules for who may register, update, reset, delete and list whom."""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import Connection, bindparam, select, update

from teabox.platform.auth import hash_password, new_token, random_password, verify_password
from teabox.platform.context import Actor, Ctx, Resources, operation
from teabox.platform.errors import Conflict, Forbidden, Invalid, NotFound, Unauthenticated
from teabox.platform.models import Token, User
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


def get_user(ctx: Ctx, user_id: str) -> User:
    user = ctx.session.get(User, user_id)
    if user is None:
        raise NotFound(f"there is no user '{user_id}'", "unknown_user")
    return user


def create_user(ctx: Ctx, user_id: str, password_hash: str, role: Role) -> User:
    check_user_id(user_id)
    if ctx.session.get(User, user_id) is not None:
        raise Conflict(f"a user '{user_id}' already exists", "already_exists")
    user = User(
        id=user_id,
        role=role.kind.value,
        attribute=role.attribute,
        password_hash=password_hash,
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


def _verify_login(resources: Resources, params: dict[str, Any]) -> dict[str, Any]:
    """Check the password against the stored hash outside any transaction (argon2 takes tens of milliseconds)."""
    user_id, password = params["user_id"], params["password"]
    with resources.database.reading() as connection:
        stored = connection.scalar(_PASSWORD_HASH, {"user_id": user_id})
    if not verify_password(stored, password):
        raise Unauthenticated("the user id or password is wrong", "invalid_credentials")
    return {"user_id": user_id, "verified_hash": stored}


def _hash_new_password(_resources: Resources, params: dict[str, Any]) -> dict[str, Any]:
    """Replace the new password by its hash before the transaction opens."""
    prepared = dict(params)
    prepared["password_hash"] = hash_password(prepared.pop("password"))
    return prepared


_PASSWORD_HASH = select(User.password_hash).where(User.id == bindparam("user_id"))


@operation("user_login", authenticated=False, prepare=_verify_login)
def user_login(ctx: Ctx, *, user_id: str, verified_hash: str) -> dict[str, Any]:
    ctx.object_id = user_id
    user = ctx.session.get(User, user_id)
    if user is None or user.password_hash != verified_hash:  # changed (or deleted) since it was verified
        raise Unauthenticated("the user id or password is wrong", "invalid_credentials")
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
    return {"user_id": ctx.user.user_id, "role": role.kind.value, "attribute": role.attribute}


@operation("user_register", prepare=_hash_new_password)
def user_register(ctx: Ctx, *, user_id: str, password_hash: str, role: str, attribute: str = "") -> dict[str, Any]:
    ctx.object_id = user_id
    new_role = parse_role(role, attribute)
    if not may_register(ctx.user.role, new_role):
        raise Forbidden(f"a {ctx.user.role.name} may not register a user with role {new_role.name}")
    create_user(ctx, user_id, password_hash, new_role)
    ctx.note = f"role {new_role.name}"
    return {}


def _managed_user(ctx: Ctx, user_id: str, what: str) -> User:
    ctx.object_id = user_id
    target = get_user(ctx, user_id)
    if not may_manage(ctx.user.role, role_of(target)):
        raise Forbidden(f"a {ctx.user.role.name} may not {what} the user '{user_id}' ({role_of(target).name})")
    return target


@operation("user_update", prepare=_hash_new_password)
def user_update(ctx: Ctx, *, user_id: str, password_hash: str, role: str, attribute: str = "") -> dict[str, Any]:
    ctx.object_id = user_id
    new_role = parse_role(role, attribute)
    target = get_user(ctx, user_id)
    if not may_update(ctx.user.role, role_of(target), new_role):
        raise Forbidden(
            f"a {ctx.user.role.name} may not change the user '{user_id}' ({role_of(target).name}) to {new_role.name}"
        )
    if target.id == ctx.user.user_id and new_role != ctx.user.role:
        raise Conflict("you may not change your own role", "self_change")
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
    revoke_tokens(ctx, user.id, keep=ctx.user.token_hash)
    return {}


@operation("reset_user_password")
def reset_user_password(ctx: Ctx, *, user_id: str) -> dict[str, Any]:
    target = _managed_user(ctx, user_id, "reset the password of")
    password = random_password()
    target.password_hash, target.updated_at = hash_password(password), ctx.now
    revoke_tokens(ctx, user_id)
    return {"password": password}


@operation("delete_user")
def delete_user(ctx: Ctx, *, user_id: str) -> dict[str, Any]:
    if user_id == ctx.user.user_id:
        ctx.object_id = user_id
        raise Conflict("you may not delete yourself", "self_delete")
    target = _managed_user(ctx, user_id, "delete")
    ctx.session.delete(target)
    return {}


@operation("list_users")
def list_users(ctx: Ctx, *, user_id: str | None = None) -> dict[str, Any]:
    role = ctx.user.role
    query = select(User.id).order_by(User.id)
    if role.is_admin:
        pass
    elif role.kind is RoleKind.DATA_OWNER_MANAGER and user_id in (None, role.attribute):
        query = query.where(User.attribute == role.attribute)
    elif role.kind is RoleKind.DATA_OWNER_MANAGER:
        raise Forbidden(f"a {role.name} may list only the users with attribute '{role.attribute}'")
    else:
        raise Forbidden(f"a {role.name} may not list users")
    ctx.object_id = user_id
    return {"ids": list(ctx.session.scalars(query))}


# Built once: every request runs it, and building it would cost more than running it.
_TOKEN_OWNER = (
    select(User.id, User.role, User.attribute)
    .join(Token, Token.user_id == User.id)
    .where(Token.token_hash == bindparam("hashed"), Token.revoked_at.is_(None), Token.expires_at > bindparam("now"))
)


def actor_for_token(connection: Connection, hashed: str, now: float) -> Actor | None:
    """The user a live token belongs to: one indexed lookup on every request, so revocation takes effect at once."""
    row = connection.execute(_TOKEN_OWNER, {"hashed": hashed, "now": now}).first()
    if row is None:
        return None
    return Actor(row.id, Role(RoleKind(row.role), row.attribute), hashed)
