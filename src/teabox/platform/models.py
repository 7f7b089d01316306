"""The platform's tables.

Times are seconds since the epoch (floats) so that comparisons in the claim
and lease queries are plain numeric comparisons on every database. Lists that
are only ever read whole (a function's argument declarations, a task's merged
arguments) are JSON; relations that are queried (owners, participants,
allowlists, bindings) are tables with indexes.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

from sqlalchemy import JSON, BigInteger, Boolean, Float, ForeignKey, Index, Integer, LargeBinary, String, Table, Text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Base(DeclarativeBase):
    if TYPE_CHECKING:
        # SQLAlchemy types ``__table__`` as any FromClause; every model here maps a plain Table,
        # which the Core statements of the queue and the task rules take.
        __table__: ClassVar[Table]


class User(Base):
    __tablename__ = "users"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    role: Mapped[str] = mapped_column(String(32))  # PlatformAdmin | FunctionOwner | DataOwner | DataOwnerManager
    attribute: Mapped[str] = mapped_column(String(128), default="")
    password_hash: Mapped[str] = mapped_column(String(255))  # "" while the account is locked by a reset
    created_at: Mapped[float] = mapped_column(Float)
    updated_at: Mapped[float] = mapped_column(Float)
    # A deleted user's row stays, so its id is never registered again and nothing it owned changes hands.
    deleted_at: Mapped[float | None] = mapped_column(Float, nullable=True)
    reset_token_hash: Mapped[str | None] = mapped_column(String(64), nullable=True)  # sha256 hex
    reset_expires_at: Mapped[float | None] = mapped_column(Float, nullable=True)
    # Set for a user another (non-admin) user registered: it knows the password until the user changes it.
    must_change_password: Mapped[bool] = mapped_column(Boolean, default=False, server_default="0")

    __table_args__ = (Index("ix_users_attribute", "attribute"),)


class Token(Base):
    __tablename__ = "tokens"

    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)  # sha256 hex of the token
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[float] = mapped_column(Float)
    expires_at: Mapped[float] = mapped_column(Float)
    revoked_at: Mapped[float | None] = mapped_column(Float, nullable=True)


class Function(Base):
    __tablename__ = "functions"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(Text)
    description: Mapped[str] = mapped_column(Text, default="")
    owner: Mapped[str] = mapped_column(String(64), index=True)
    executor_type: Mapped[str] = mapped_column(String(16))
    public: Mapped[bool] = mapped_column(Boolean)
    disabled: Mapped[bool] = mapped_column(Boolean, default=False)
    deleted: Mapped[bool] = mapped_column(Boolean, default=False)
    payload_sha256: Mapped[str] = mapped_column(String(64))
    payload_size: Mapped[int] = mapped_column(BigInteger)
    arguments: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    inputs: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    outputs: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    usage_quota: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    usage_count: Mapped[int] = mapped_column(BigInteger, default=0)
    limits: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[float] = mapped_column(Float)
    updated_at: Mapped[float] = mapped_column(Float)


class FunctionAllow(Base):
    """One user id on a function's allowlist."""

    __tablename__ = "function_allowlist"

    function_id: Mapped[str] = mapped_column(ForeignKey("functions.id", ondelete="CASCADE"), primary_key=True)
    user_id: Mapped[str] = mapped_column(String(64), primary_key=True, index=True)


class DataFile(Base):
    """A registered input or output file (Teaclave's TeaclaveInputFile / TeaclaveOutputFile)."""

    __tablename__ = "files"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)  # input-<uuid> | output-<uuid>
    kind: Mapped[str] = mapped_column(String(8))  # input | output
    url: Mapped[str] = mapped_column(Text)
    schema: Mapped[str] = mapped_column(String(32))
    sealed_key: Mapped[bytes] = mapped_column(LargeBinary)  # key and IV sealed under the platform key (file_keys)
    cmac: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    fusion: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[float] = mapped_column(Float)
    # An output's (key, IV) encrypts one plaintext: the task whose write began owns it for good,
    # and a record update_output_file moved to another URL is never used again.
    write_task: Mapped[str | None] = mapped_column(String(64), nullable=True)
    replaced_by: Mapped[str | None] = mapped_column(String(64), nullable=True)

    __table_args__ = (Index("ix_files_url", "url"),)


class FileOwner(Base):
    __tablename__ = "file_owners"

    file_id: Mapped[str] = mapped_column(ForeignKey("files.id", ondelete="CASCADE"), primary_key=True)
    user_id: Mapped[str] = mapped_column(String(64), primary_key=True, index=True)
    # False for a co-owner named in register_fusion_output until they accept it.
    consented: Mapped[bool] = mapped_column(Boolean, default=True, server_default="1")


class LocalPath(Base):
    """A ``file://`` path (resolved) and the first user who registered it: only they may register it again."""

    __tablename__ = "local_paths"

    path: Mapped[str] = mapped_column(Text, primary_key=True)
    user_id: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[float] = mapped_column(Float)


class PayloadUpload(Base):
    """Who uploaded (or registered inline) a payload blob: only they, and the admin, may register it."""

    __tablename__ = "payload_uploads"

    sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[str] = mapped_column(String(64), primary_key=True)


class HostedFile(Base):
    """A file kept by the platform itself, addressed as ``teabox://files/<id>/<name>``."""

    __tablename__ = "hosted_files"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(Text)
    uploader: Mapped[str] = mapped_column(String(64), index=True)
    uploaded: Mapped[bool] = mapped_column(Boolean)  # True: bytes came from upload_file; False: reserved for an output
    sha256: Mapped[str | None] = mapped_column(String(64), nullable=True)
    size: Mapped[int] = mapped_column(BigInteger, default=0)
    created_at: Mapped[float] = mapped_column(Float)


class Task(Base):
    __tablename__ = "tasks"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    creator: Mapped[str] = mapped_column(String(64))
    function_id: Mapped[str] = mapped_column(String(64), index=True)
    function_owner: Mapped[str] = mapped_column(String(64))
    executor: Mapped[str] = mapped_column(String(16))
    payload_sha256: Mapped[str] = mapped_column(String(64))  # the payload the participants approve
    limits: Mapped[dict[str, Any]] = mapped_column(JSON)
    function_arguments: Mapped[dict[str, Any]] = mapped_column(JSON)
    inputs_ownership: Mapped[dict[str, list[str]]] = mapped_column(JSON)
    outputs_ownership: Mapped[dict[str, list[str]]] = mapped_column(JSON)
    status: Mapped[str] = mapped_column(String(16))
    staged_at: Mapped[float | None] = mapped_column(Float, nullable=True)
    attempt: Mapped[int] = mapped_column(Integer, default=0)
    worker_id: Mapped[str | None] = mapped_column(Text, nullable=True)
    lease_seconds: Mapped[float | None] = mapped_column(Float, nullable=True)
    lease_expires_at: Mapped[float | None] = mapped_column(Float, nullable=True)
    return_value: Mapped[str | None] = mapped_column(Text, nullable=True)
    tags: Mapped[dict[str, str] | None] = mapped_column(JSON, nullable=True)  # data name -> hex tag
    failure_kind: Mapped[str | None] = mapped_column(Text, nullable=True)
    reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    metrics: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    created_at: Mapped[float] = mapped_column(Float)
    updated_at: Mapped[float] = mapped_column(Float)
    ended_at: Mapped[float | None] = mapped_column(Float, nullable=True)
    # When what the task's attempts published, unrecorded, was withdrawn after it ended without its outputs.
    outputs_withdrawn_at: Mapped[float | None] = mapped_column(Float, nullable=True)

    __table_args__ = (
        Index("ix_tasks_status_staged_at", "status", "staged_at"),
        Index("ix_tasks_status_lease", "status", "lease_expires_at"),
        Index("ix_tasks_status_creator_staged_at", "status", "creator", "staged_at"),
    )


class QueueTurn(Base):
    """When a user's task was last claimed: the queue serves the user who waited longest first."""

    __tablename__ = "queue_turns"

    user_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    served_at: Mapped[float] = mapped_column(Float)


class TaskParticipant(Base):
    __tablename__ = "task_participants"

    task_id: Mapped[str] = mapped_column(ForeignKey("tasks.id", ondelete="CASCADE"), primary_key=True)
    user_id: Mapped[str] = mapped_column(String(64), primary_key=True, index=True)
    approved: Mapped[bool] = mapped_column(Boolean, default=False)


class TaskData(Base):
    """A file bound to one of a task's data names."""

    __tablename__ = "task_data"

    task_id: Mapped[str] = mapped_column(ForeignKey("tasks.id", ondelete="CASCADE"), primary_key=True)
    direction: Mapped[str] = mapped_column(String(8), primary_key=True)  # input | output
    data_name: Mapped[str] = mapped_column(String(255), primary_key=True)
    file_id: Mapped[str] = mapped_column(ForeignKey("files.id"), index=True)


class AuditEntry(Base):
    __tablename__ = "audit_log"

    # BigInteger for the model; SQLite's INTEGER PRIMARY KEY is already 64-bit (see migration 0007).
    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True)
    timestamp: Mapped[float] = mapped_column(Float, index=True)
    user_id: Mapped[str | None] = mapped_column(Text, nullable=True, index=True)
    action: Mapped[str] = mapped_column(Text, index=True)
    object_id: Mapped[str | None] = mapped_column(Text, nullable=True)
    outcome: Mapped[str] = mapped_column(Text)
    message: Mapped[str] = mapped_column(Text, default="")


class WorkerToken(Base):
    """A credential for a worker on another machine: it may claim and run tasks, nothing else."""

    __tablename__ = "worker_tokens"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)  # wt-<hex>, shown to the operator
    name: Mapped[str] = mapped_column(String(64))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)  # sha256 hex of the token
    created_at: Mapped[float] = mapped_column(Float)
    revoked_at: Mapped[float | None] = mapped_column(Float, nullable=True)
