"""The data directory and everything in it are the operator's alone: 0700 directories, 0600 files.

The database holds every file's sealed key, the blob store every hosted
file, and the data directory the platform key; created with the process
umask they would be world-readable on most systems. So the platform's
directories and files under the data directory get their modes set
explicitly, whatever the umask, and teabox refuses to open a data directory
that other users can enter or read: an operator who loosened it by mistake
learns it at start-up, with the command that fixes it.
"""

from __future__ import annotations

import errno
import os
import stat
import tempfile
from pathlib import Path

from teabox.errors import TeaboxError

PRIVATE_DIR = 0o700
PRIVATE_FILE = 0o600
_SHARED_BITS = 0o077  # any permission for the group or for others


class DataDirExposed(TeaboxError):
    """The data directory (or a secret in it) is open to other users; the message names the fix."""


class DataDirUnwritable(TeaboxError):
    """The data directory cannot be written (read-only, not ours, full); the message names the fix."""


def prepare_data_dir(data_dir: Path) -> Path:
    """Create ``data_dir`` 0700 if it does not exist; refuse it if other users may use it or if it is unwritable."""
    data_dir = Path(data_dir)
    try:
        if not data_dir.exists():
            data_dir.parent.mkdir(parents=True, exist_ok=True)
            private_dir(data_dir)
        refuse_if_shared(data_dir, "data directory")
        with tempfile.TemporaryFile(dir=data_dir):
            pass  # a write now, so that an unwritable directory stops the start with one line, not a traceback
    except OSError as exc:
        raise DataDirUnwritable(_unwritable(data_dir, exc)) from exc
    return data_dir


def _unwritable(data_dir: Path, exc: OSError) -> str:
    if exc.errno == errno.EROFS:
        fix = "remount its file system read-write, or give a writable --data-dir"
        return f"the data directory {data_dir} is on a read-only file system; teabox writes there: {fix}"
    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return f"the data directory {data_dir} is full; free some space on its file system and start again"
    if exc.errno in (errno.EACCES, errno.EPERM):
        return (
            f"the data directory {data_dir} is not writable by this user (uid {os.getuid()}); fix it with: "
            f"chown -R {os.getuid()} {data_dir}, or give a writable --data-dir"
        )
    return f"the data directory {data_dir} cannot be written ({exc.strerror}); give a writable --data-dir"


def refuse_if_shared(path: Path, what: str) -> None:
    """Raise :class:`DataDirExposed` if the group or others have any permission on ``path``."""
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & _SHARED_BITS:
        raise DataDirExposed(
            f"the {what} {path} is open to other users (mode {mode:04o}) and it holds the platform's keys; "
            f"fix it with: chmod -R go= {path}"
        )


def private_dir(path: Path) -> Path:
    """``path`` as a directory with mode 0700 (created if missing, its parent must exist)."""
    try:
        path.mkdir(mode=PRIVATE_DIR)
    except FileExistsError:
        pass
    _set_mode(path, PRIVATE_DIR)
    return path


def create_private_file(path: Path) -> int:
    """Create ``path`` (it must not exist) with mode 0600 and return a descriptor open for writing."""
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, PRIVATE_FILE)
    os.fchmod(descriptor, PRIVATE_FILE)  # the umask may have taken bits away; set exactly what is meant
    return descriptor


def make_private(path: Path) -> None:
    """Narrow an existing file to 0600 (files an older teabox created with the umask's mode)."""
    if path.exists():
        _set_mode(path, PRIVATE_FILE)


def _set_mode(path: Path, mode: int) -> None:
    if stat.S_IMODE(path.stat().st_mode) != mode:
        os.chmod(path, mode)
