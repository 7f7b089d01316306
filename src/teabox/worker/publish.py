"""Encrypt a task's outputs with their owners' keys and publish them all, or none.

Publishing happens in three steps so that one failing destination leaves
nothing behind:

1. *seal*: every output is encrypted into the task's staging area, collecting
   its tag; nothing has left the worker yet;
2. *stage*: every sealed file is prepared at its destination without becoming
   visible (a hidden temporary file beside a ``file://`` target, a blob not
   yet linked for a platform-hosted file; an ``http(s)://`` PUT cannot be
   staged and waits for step 3);
3. *commit*: remote destinations first (PUT), then the local renames. If any
   commit fails, the ones already made are undone (unlink; a best-effort
   DELETE for HTTP) and every staged one is dropped.

The tags only become the outputs' registered cmacs when the platform records
the task's outcome, so an output whose tag is not recorded was not produced
by teabox, whatever its URL holds.

AES-GCM outputs are encrypted with the key and IV their owner registered, so
one (key, IV) pair must never encrypt two different plaintexts. Before the
first output is encrypted, the worker has the platform give every output of
the task to this task for good (:meth:`TaskQueue.begin_writes`): from then on
no other task can be bound to those records or write them, even if this
publication fails half-way after an HTTP server has seen one ciphertext, and
``update_output_file`` cannot move their (key, IV) to a new record. The only
way an output is encrypted twice is a retry of the same task after a lost
worker, and a retry computes the same plaintext (same payload, same
arguments, same inputs checked against the same tags, and a payload has no
source of nondeterminism), hence the same ciphertext.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from teabox.formats import FileCheckError, encrypt
from teabox.formats.bound_names import bound_name
from teabox.platform.staged import StagedOutput
from teabox.worker.fetch import PendingUpload, TransferError, Transfers, describe_url
from teabox.worker.staging import TaskArea


class PublishError(TransferError):
    """An output could not be encrypted or delivered; nothing of the task was published."""


@dataclass(frozen=True)
class SealedOutput:
    data_name: str
    file_id: str
    url: str
    path: Path
    tag: bytes


@dataclass
class Publication:
    """Outputs that are visible at their URLs; ``withdraw`` takes them back if the outcome is refused."""

    uploads: list[PendingUpload] = field(default_factory=list)

    def withdraw(self) -> None:
        for upload in reversed(self.uploads):
            upload.undo()


def seal_outputs(outputs: list[StagedOutput], area: TaskArea) -> list[SealedOutput]:
    """Encrypt each output the payload wrote (``area.plain_output(j)``) with its owner's key."""
    sealed = []
    for index, output in enumerate(outputs):
        try:
            name = bound_name(output.url)
            destination = area.sealed(index, name)
            tag = encrypt(output.crypto, area.plain_output(index), destination, name=name)
        except FileCheckError as exc:
            raise PublishError(f"output '{output.data_name}' could not be encrypted: {exc.detail}") from exc
        except OSError as exc:
            raise PublishError(f"output '{output.data_name}' could not be encrypted: {exc.strerror or exc}") from exc
        sealed.append(SealedOutput(output.data_name, output.file_id, output.url, destination, tag))
    return sealed


def _is_remote(url: str) -> bool:
    return urlsplit(url).scheme.lower() in ("http", "https")


def publish(sealed: list[SealedOutput], transfers: Transfers) -> Publication:
    """Deliver every sealed output to its URL, or raise :class:`PublishError` having delivered none."""
    staged: list[tuple[SealedOutput, PendingUpload]] = []
    try:
        for output in sealed:
            staged.append((output, _stage(output, transfers)))
    except PublishError:
        for _, upload in staged:
            upload.abort()
        raise

    ordered = sorted(staged, key=lambda item: not _is_remote(item[0].url))
    done: list[PendingUpload] = []
    for position, (output, upload) in enumerate(ordered):
        try:
            upload.commit()
        except Exception as exc:
            for earlier in reversed(done):
                earlier.undo()
            for _, later in ordered[position:]:
                later.abort()
            raise PublishError(f"output '{output.data_name}' could not be published: {exc}") from exc
        done.append(upload)
    return Publication(done)


def _stage(output: SealedOutput, transfers: Transfers) -> PendingUpload:
    try:
        return transfers.stage_upload(output.path, output.url, output_id=output.file_id)
    except TransferError as exc:
        raise PublishError(f"output '{output.data_name}' could not be published: {exc}") from exc
    except OSError as exc:
        raise PublishError(
            f"output '{output.data_name}' could not be staged for {describe_url(output.url)}: {exc}"
        ) from exc
