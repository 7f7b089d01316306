"""The two ways an encrypted file can be refused.

A :class:`FormatError` means the request or the file's structure is wrong
(unknown schema, key of the wrong length, a file that is not in the format at
all); an :class:`IntegrityError` means the file is well formed but is not what
its owner encrypted (wrong key, tampered bytes, renamed file, cmac mismatch).
Callers treat them differently: the first is usually a user's mistake, the
second a possible attack, so both carry the file and the check that failed.
"""

from __future__ import annotations

from teabox.errors import TeaboxError


class FileCheckError(TeaboxError):
    """A check on an encrypted file (or on the crypto settings for it) failed.

    ``file`` names the file concerned (None for settings checked before any
    file is opened) and ``check`` is a short, stable name of the failed check
    (e.g. ``"metadata tag"``) so that callers can report or count failures
    without parsing messages.
    """

    kind = "check"

    def __init__(self, check: str, detail: str, *, file: str | None = None) -> None:
        self.check = check
        self.detail = detail
        self.file = file
        where = f"{file}: " if file else ""
        super().__init__(f"{where}{self.kind} check '{check}' failed: {detail}")


class FormatError(FileCheckError):
    """Bad schema, key or IV, or a file whose structure is not the format's."""

    kind = "format"


class IntegrityError(FileCheckError):
    """A tag, name or cmac that does not match: wrong key, tampering or a renamed file."""

    kind = "integrity"
