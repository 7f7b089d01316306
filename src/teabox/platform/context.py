"""What every domain operation receives: the caller, one transaction, and the platform's settings."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.orm import Session

from teabox.platform.blobs import BlobStore
from teabox.platform.db import Database
from teabox.platform.file_keys import FileKeys
from teabox.platform.notify import Topic
from teabox.platform.roles import Role
from teabox.platform.settings import Settings


@dataclass(frozen=True)
class Actor:
    user_id: str
    role: Role
    token_hash: str | None = None  # the token this request came with, so that logout can revoke it
    must_change_password: bool = False  # registered by another user, who knows the password: nothing else yet


@dataclass
class Ctx:
    session: Session
    actor: Actor | None
    settings: Settings
    blobs: BlobStore
    now: float
    file_keys: FileKeys  # seals and opens the file keys the database holds
    object_id: str | None = None  # the object the audit entry names; operations set it
    note: str = ""  # extra detail for the audit entry (never secrets)
    wakes: set[Topic] = field(default_factory=set)  # whom to wake once the operation has committed

    @property
    def user(self) -> Actor:
        assert self.actor is not None, "only an operation registered with authenticated=False runs without a caller"
        return self.actor


@dataclass(frozen=True)
class Resources:
    """What an operation's preparation may use: no transaction is open while it runs."""

    database: Database
    blobs: BlobStore
    settings: Settings


Handler = Callable[..., dict[str, Any]]
# Work done before the operation's transaction opens, on the raw parameters, returning the handler's parameters:
# slow steps (argon2, checking a payload) that must never run while a transaction holds the write lock.
Prepare = Callable[[Resources, dict[str, Any]], dict[str, Any]]


@dataclass(frozen=True)
class Operation:
    name: str
    handler: Handler
    authenticated: bool = True
    prepare: Prepare | None = None
    # Changes nothing: runs in a read transaction, so it never takes (nor waits for) the write lock;
    # only its audit entry is written, in a transaction of its own.
    readonly: bool = False


OPERATIONS: dict[str, Operation] = {}


def operation(
    name: str, *, authenticated: bool = True, prepare: Prepare | None = None, readonly: bool = False
) -> Callable[[Handler], Handler]:
    """Register ``handler`` as the platform operation ``name`` (the SDK method of the same name)."""

    def register(handler: Handler) -> Handler:
        OPERATIONS[name] = Operation(name, handler, authenticated, prepare, readonly)
        return handler

    return register


def new_id(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4()}"
