"""The platform as one object: authenticate a caller, run an operation, audit it.

Every operation runs in one write transaction together with its audit entry,
so a change is never recorded without its entry nor the reverse. A refused
operation rolls back whole (nothing half-applied) and is then audited in a
transaction of its own, with the refusal's code as its outcome. Slow work
(password hashing) runs before the transaction opens, and operations that
change nothing run in a read transaction, so that the write lock is only ever
held for a few statements: the workers' lease renewals never wait long for it.
"""

from __future__ import annotations

import time
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, select
from sqlalchemy.orm import Session

from teabox.platform import audit, files, functions, overview, tasks, users  # noqa: F401 - they register the operations
from teabox.platform.audit import Entry
from teabox.platform.auth import hash_password, token_hash
from teabox.platform.blobs import BlobStore
from teabox.platform.blobs_s3 import BlobStoreError, unavailable
from teabox.platform.conflicts import is_lost_race, lost_race
from teabox.platform.context import OPERATIONS, Actor, Ctx, Operation, Resources
from teabox.platform.disk_space import is_full_error
from teabox.platform.errors import InternalError, MalformedRequest, NoSuchObject, NotAuthenticated, PlatformError
from teabox.platform.models import User
from teabox.platform.nul import nul_refusal
from teabox.platform.roles import Role, RoleKind, check_api
from teabox.platform.settings import Settings
from teabox.platform.storage import Storage

_OBJECT_KEYS = ("task_id", "function_id", "data_id", "user_id", "url", "name")
_ANY_ADMIN = select(User.id).where(User.role == RoleKind.PLATFORM_ADMIN.value).limit(1)


class Platform:
    def __init__(self, storage: Storage, settings: Settings | None = None) -> None:
        self.storage = storage
        self.settings = settings or Settings()

    @property
    def blobs(self) -> BlobStore:
        return self.storage.blobs

    def _ctx(self, session: Any, actor: Actor | None, now: float) -> Ctx:
        return Ctx(session, actor, self.settings, self.storage.blobs, now, self.storage.file_keys)

    def authenticate(self, token: str | None) -> Actor:
        """The caller behind a bearer token; one indexed lookup, no hashing beyond sha256."""
        with self.storage.database.reading() as connection:
            return self._actor(connection, token)

    @staticmethod
    def _actor(connection: Connection, token: str | None) -> Actor:
        if not token:
            raise NotAuthenticated("this call needs a token: send 'Authorization: Bearer <token>' (see user_login)")
        actor = users.actor_for_token(connection, token_hash(token), time.time())
        if actor is None:
            raise NotAuthenticated("the token is unknown, expired or revoked; log in again", "invalid_token")
        return actor

    def call(
        self, name: str, actor: Actor | None, params: dict[str, Any], *, audit_success: bool = True
    ) -> dict[str, Any]:
        """Run operation ``name`` for ``actor`` with ``params``; raise PlatformError if refused.

        Every outcome is audited, a failure that is a bug too (as ``internal_error``). A caller that
        passes ``audit_success=False`` for a read-only operation records its success itself with
        :meth:`audit`: the long-poll does so once it has waited, so that waiting never writes.
        """
        return self._run(name, actor, params, audit_success)[1]

    def serve(
        self, name: str, token: str | None, params: dict[str, Any], *, audit_success: bool = True
    ) -> tuple[Actor | None, dict[str, Any]]:
        """:meth:`call` for the caller with bearer ``token``: (the caller, the answer).

        For an operation that changes nothing the token is looked up in the operation's own read
        transaction, so that the call costs one transaction rather than two. Any other operation
        looks it up first, in a read of its own: a caller without a valid token never makes the
        platform take the write lock, nor do the slow preparation some operations have. An
        unknown, expired or revoked token raises NotAuthenticated before anything else is looked
        at, unaudited: the service records such a call with the client's address. An operation
        that needs no token (``user_login``) ignores it.
        """
        operation = _operation(name)
        if not operation.authenticated:
            return None, self.call(name, None, params, audit_success=audit_success)
        if not operation.readonly or operation.prepare is not None:
            actor = self.authenticate(token)
            return actor, self.call(name, actor, params, audit_success=audit_success)
        return self._run(name, _Bearer(token), params, audit_success)

    def _run(
        self, name: str, caller: Actor | _Bearer | None, params: dict[str, Any], audit_success: bool
    ) -> tuple[Actor | None, dict[str, Any]]:
        """Run ``name`` for ``caller``: an actor, or a bearer token whose owner is looked up in the
        operation's transaction (see :meth:`serve`)."""
        operation = _operation(name)
        now = time.time()
        ctx: Ctx | None = None
        actor = caller if not isinstance(caller, _Bearer) else None
        proven = not isinstance(caller, _Bearer)  # a token's owner is unknown until its lookup
        who = self._who(actor, params) if proven else None
        nul = nul_refusal(params)  # looked for before any transaction: a large body takes a while
        try:
            if proven:
                self._check(operation, actor, nul)
            if operation.prepare is not None:
                resources = Resources(self.storage.database, self.storage.blobs, self.settings)
                arguments = operation.prepare(resources, params)
                now = time.time()  # the operation happens after its slow preparation: a token's lifetime starts here
            else:
                arguments = params
            with self._transaction(operation.readonly) as session:
                if isinstance(caller, _Bearer):  # a read-only operation's (see serve)
                    actor = self._actor(session.connection(), caller.token)
                    proven, who = True, actor.user_id
                    self._check(operation, actor, nul)
                ctx = self._ctx(session, actor, now)
                result = operation.handler(ctx, **arguments)
                if not operation.readonly:
                    audit.record(session, now, who, name, ctx.object_id, "ok", ctx.note)
            if not operation.readonly:
                self.storage.disk.saw_write()
            elif audit_success:
                self.audit(now, who, name, ctx.object_id, "ok", ctx.note)
            for topic in ctx.wakes:
                self.storage.notifier.notify(topic)
            return actor, result
        except PlatformError as exc:
            if proven:
                self._refused(exc, now, who, name, ctx, params)
            raise
        except Exception as exc:
            if is_full_error(exc):
                refusal: PlatformError = self.storage.disk.saw_full()
            elif is_lost_race(exc):
                refusal = lost_race(name)
            elif isinstance(exc, BlobStoreError):
                refusal = unavailable(exc)
            else:
                refusal = InternalError(f"internal error: {type(exc).__name__}")
            self._refused(refusal, now, who, name, ctx, params)
            raise refusal from exc

    @staticmethod
    def _check(operation: Operation, actor: Actor | None, nul: MalformedRequest | None) -> None:
        """What every call must pass before its operation runs: no NUL in any string (``nul`` says where
        there is one), the caller's role."""
        if nul is not None:
            raise nul
        if operation.authenticated:
            if actor is None:
                raise NotAuthenticated(f"{operation.name} needs a token")
            check_api(actor.role, operation.name, must_change_password=actor.must_change_password)

    def _transaction(self, readonly: bool) -> AbstractContextManager[Session]:
        """A read transaction for an operation that changes nothing (it never takes the write lock), else a write."""
        return self.storage.database.read() if readonly else self.storage.database.write()

    def _refused(
        self, exc: PlatformError, now: float, who: str | None, name: str, ctx: Ctx | None, params: dict[str, Any]
    ) -> None:
        object_id = ctx.object_id if ctx is not None and ctx.object_id else _object_of(params)
        self.audit(now, who, name, object_id, exc.code, exc.message)
        exc.audited = True

    def audit(
        self, now: float, user_id: str | None, action: str, object_id: str | None, outcome: str, message: str
    ) -> None:
        """Record an entry in a transaction of its own (one short write)."""
        self.audit_all(now, [(user_id, action, object_id, outcome, message)])

    def audit_all(self, now: float, entries: list[Entry]) -> None:
        """Record ``entries`` in one transaction of their own.

        With the data directory full the entries are lost (the calls themselves are
        still answered): the log says once that the directory is full.
        """
        try:
            with self.storage.database.writing() as connection:
                audit.record_all(connection, now, entries)
        except Exception as exc:
            if not is_full_error(exc):
                raise
            self.storage.disk.saw_full()

    @staticmethod
    def _who(actor: Actor | None, params: dict[str, Any]) -> str | None:
        return actor.user_id if actor is not None else params.get("user_id")

    def ended_results(self, waits: list[tuple[str, Actor]]) -> list[dict[str, Any] | None]:
        """The answers of the long-polls ``waits`` (task, viewer whose access was checked) whose tasks have
        ended, None for the others.

        The waiting long-polls' one cheap query, and one audit write for all the waits that end: a task's
        end answers its waits without each of them coming back for its answer.
        """
        with self.storage.database.reading() as connection:
            rows = {row.id: row for row in tasks.ended_result_rows(connection, sorted({task for task, _ in waits}))}
        answers = [tasks.task_result(rows[task], viewer) if task in rows else None for task, viewer in waits]
        entries: list[Entry] = [
            (viewer.user_id, "get_task_result", task, "ok", "ended") for task, viewer in waits if task in rows
        ]
        if entries:
            self.audit_all(time.time(), entries)
        return answers

    def task_result(self, task_id: str, viewer: Actor) -> dict[str, Any]:
        """The result answer after a long-poll's wait, for a task whose access was already checked.

        The call is audited in the transaction that reads the answer: one write instead of a read and a
        write. With the data directory full the answer is still given, unaudited, as :meth:`audit` does.
        """
        try:
            with self.storage.database.writing() as connection:
                now = time.time()
                result = tasks.task_result(tasks.result_row(connection, task_id), viewer)
                note = "ended" if result["done"] else "still running after the wait"
                audit.record(connection, now, viewer.user_id, "get_task_result", task_id, "ok", note)
        except Exception as exc:
            if not is_full_error(exc):
                raise
            self.storage.disk.saw_full()
            with self.storage.database.reading() as connection:
                return tasks.task_result(tasks.result_row(connection, task_id), viewer)
        self.storage.disk.saw_write()
        return result

    def has_admin(self) -> bool:
        """Whether a PlatformAdmin exists: without one nobody can register users or log in to manage."""
        with self.storage.database.reading() as connection:
            return connection.scalar(_ANY_ADMIN) is not None

    def create_admin(self, user_id: str, password: str) -> None:
        """Create a PlatformAdmin directly (``teabox admin create``): there is no default admin."""
        password_hash = hash_password(password)  # before the transaction: argon2 must not hold the write lock
        now = time.time()
        with self.storage.database.write() as session:
            ctx = self._ctx(session, None, now)
            users.create_user(ctx, user_id, password_hash, Role(RoleKind.PLATFORM_ADMIN))
            audit.record(session, now, None, "admin_create", user_id, "ok", "created from the command line")

    def issue_reset_token(self, user_id: str) -> str:
        """Lock ``user_id`` and return its one-time reset token (``teabox admin reset-password``, on the machine)."""
        now = time.time()
        with self.storage.database.write() as session:
            token = users.issue_reset_token(self._ctx(session, None, now), user_id)
            audit.record(session, now, None, "admin_reset_password", user_id, "ok", "reset token issued on the machine")
        return token


@dataclass(frozen=True)
class _Bearer:
    """A caller known so far only by the bearer token it sent (None: it sent none)."""

    token: str | None


def _operation(name: str) -> Operation:
    operation = OPERATIONS.get(name)
    if operation is None:
        raise NoSuchObject(f"there is no operation '{name}'")
    return operation


def _object_of(params: dict[str, Any]) -> str | None:
    for key in _OBJECT_KEYS:
        value = params.get(key)
        if isinstance(value, str):
            return value
    return None
