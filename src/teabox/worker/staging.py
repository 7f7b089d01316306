"""Where a task's files live on disk while it runs, and the guarantee that they go away.

Each worker process owns one directory under ``<data dir>/staging/`` (mode
0700) and holds an exclusive ``flock`` on a lock file beside it for as long as
it lives. Each task it runs gets a sub-directory (mode 0700), created when
the task first stores a file and removed when the task ends, whatever happens. A process that is killed cannot clean
up after itself, so :func:`sweep_abandoned` removes every worker directory
whose lock nobody holds any more: the supervisor calls it when a worker dies
and when it starts.

Layout of one task's area (index-numbered directories, so that no data name
or URL can steer a path)::

    fetched/<i>/<bound name>   input i as downloaded (still encrypted; none for an
                               encrypted local file, decrypted where it lies)
    plain/<i>                  input i decrypted, read by the payload
    out/<j>                    output j in plaintext, written by the payload
    sealed/<j>/<bound name>    output j encrypted with its owner's key
"""

from __future__ import annotations

import fcntl
import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from teabox.errors import TeaboxError

_PRIVATE = 0o700


def _private_dir(path: Path) -> Path:
    path.mkdir(mode=_PRIVATE, parents=False, exist_ok=False)
    os.chmod(path, _PRIVATE)  # the process umask may have narrowed or the mkdir mode been ignored
    return path


@dataclass(frozen=True)
class TaskArea:
    """The staging directory of one attempt at one task."""

    root: Path

    def fetched(self, index: int, name: str) -> Path:
        return self._slot("fetched", index) / name

    def plain_input(self, index: int) -> Path:
        return self._parent("plain") / str(index)

    def plain_output(self, index: int) -> Path:
        return self._parent("out") / str(index)

    def sealed(self, index: int, name: str) -> Path:
        return self._slot("sealed", index) / name

    def _parent(self, kind: str) -> Path:
        if not self.root.is_dir():
            _private_dir(self.root)  # created on first use: a task without files never touches the disk
        path = self.root / kind
        if not path.is_dir():
            _private_dir(path)
        return path

    def _slot(self, kind: str, index: int) -> Path:
        path = self._parent(kind) / str(index)
        if not path.is_dir():
            _private_dir(path)
        return path


class WorkerStaging:
    """One worker process's staging directory, locked for the life of the process."""

    def __init__(self, data_dir: Path, worker_id: str) -> None:
        base = staging_base(data_dir)
        self.root = base / _safe(worker_id)
        self._lock_file = _hold_lock(base / f"{_safe(worker_id)}.lock")
        if self.root.exists():
            shutil.rmtree(self.root)
        _private_dir(self.root)

    @contextmanager
    def task_area(self, task_id: str, attempt: int) -> Iterator[TaskArea]:
        """A fresh private directory for one attempt, removed on the way out even on error."""
        area = TaskArea(self.root / f"{_safe(task_id)}.{attempt}")
        try:
            yield area
        finally:
            if area.root.exists():
                shutil.rmtree(area.root, ignore_errors=True)

    def close(self) -> None:
        shutil.rmtree(self.root, ignore_errors=True)
        (self.root.parent / f"{self.root.name}.lock").unlink(missing_ok=True)
        self._lock_file.close()


def _hold_lock(path: Path) -> BinaryIO:
    """Lock ``path`` exclusively, making sure the file locked is the one still linked there.

    A sweeper may unlink a lock file between our open and our flock; locking
    that orphaned inode would leave our directory looking abandoned.
    """
    while True:
        handle = _open_lock(path)
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.close()
            raise TeaboxError(f"another live worker process uses the staging directory {path.stem}") from None
        try:
            if os.stat(path).st_ino == os.fstat(handle.fileno()).st_ino:
                return handle
        except FileNotFoundError:
            pass
        handle.close()


def _open_lock(path: Path) -> BinaryIO:
    """Open (creating it 0600 whatever the umask) a lock file; only its lock matters, never its bytes."""
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_CLOEXEC, 0o600)
    os.fchmod(descriptor, 0o600)
    return os.fdopen(descriptor, "ab")


def staging_base(data_dir: Path) -> Path:
    """``<data dir>/staging``, created private if missing."""
    base = Path(data_dir) / "staging"
    base.mkdir(mode=_PRIVATE, parents=True, exist_ok=True)
    os.chmod(base, _PRIVATE)
    return base


def sweep_abandoned(data_dir: Path) -> list[Path]:
    """Remove the staging directories of worker processes that are gone; returns what was removed."""
    base = staging_base(data_dir)
    removed: list[Path] = []
    for lock_path in sorted(base.glob("*.lock")):
        with _open_lock(lock_path) as lock:
            try:
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                continue  # its worker is alive
            directory = base / lock_path.name.removesuffix(".lock")
            if directory.exists():
                shutil.rmtree(directory, ignore_errors=True)
                removed.append(directory)
            lock_path.unlink(missing_ok=True)
    for directory in base.iterdir():
        if directory.is_dir() and not (base / f"{directory.name}.lock").exists():
            shutil.rmtree(directory, ignore_errors=True)  # left without even a lock file
            removed.append(directory)
    return removed


def _safe(name: str) -> str:
    """A task or worker id as a single path component."""
    cleaned = "".join(c if c.isalnum() or c in "-_" else "_" for c in name)
    return cleaned or "_"
