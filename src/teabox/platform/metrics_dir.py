"""Where the Prometheus figures of several processes on one machine meet.

``teabox serve`` is one API process plus worker processes, and more processes
may share its data directory (``teabox worker``). Each records its histograms
in a file of its own, in prometheus_client's multiprocess mode, and a scrape of
``/metrics`` adds up every file in the directory, so the figures of all of them
are counted exactly once whichever process answers. Files of processes that
have exited stay and keep counting: totals only grow, as a Prometheus counter
must; removing the directory while nothing runs (or a reboot) sets them back to
zero, like a restart. Figures that are the queue's state (tasks by state, queue
depth) are not kept here at all: they are read from the database at each scrape
(see :mod:`teabox.platform.queue_metrics`).

The files are memory-mapped, and a process that writes into a mapped page the
file system has no room for is killed outright (SIGBUS). So they never live in
the data directory, which uploads can fill: by default they are in
``/dev/shm`` (memory), in a directory private to the user and named after the
data directory, so that every process on one data directory meets there.

The mode is chosen when ``prometheus_client`` is first imported, from the
``PROMETHEUS_MULTIPROC_DIR`` environment variable, so :func:`share_metrics`
runs before that import and the processes a command spawns inherit it.
"""

from __future__ import annotations

import hashlib
import os
import stat
import sys
import tempfile
from pathlib import Path

from teabox import config
from teabox.platform.private_files import DataDirExposed, prepare_data_dir

_MEMORY = Path("/dev/shm")


def default_metrics_dir(data_dir: Path) -> Path:
    """``/dev/shm/teabox-metrics-<uid>-<digest of the data directory's path>`` (the temporary directory without it)."""
    base = _MEMORY if _MEMORY.is_dir() else Path(tempfile.gettempdir())
    digest = hashlib.sha256(str(Path(data_dir).resolve()).encode()).hexdigest()[:16]
    return base / f"teabox-metrics-{os.getuid()}-{digest}"


def share_metrics(data_dir: Path) -> Path:
    """Record this process's figures, and those of the processes it starts, in one shared directory.

    The directory is ``PROMETHEUS_MULTIPROC_DIR`` when the operator set it, else
    :func:`default_metrics_dir`. It must be this user's alone (created 0700 if missing): figures
    planted by another user would be added to ours. Raises DataDirExposed naming the fix otherwise, and
    what :func:`teabox.platform.private_files.prepare_data_dir` raises for ``data_dir``.
    """
    if "prometheus_client" in sys.modules and not config.METRICS_DIR.is_set():
        raise RuntimeError("share_metrics() must run before prometheus_client is imported")
    prepare_data_dir(Path(data_dir))  # a data directory that cannot be used is refused before anything is made
    directory = Path(config.METRICS_DIR.get() or default_metrics_dir(data_dir))
    try:
        directory.mkdir(mode=0o700)
    except FileExistsError:
        pass
    found = os.lstat(directory)
    if not stat.S_ISDIR(found.st_mode) or found.st_uid != os.getuid() or stat.S_IMODE(found.st_mode) & 0o077:
        raise DataDirExposed(
            f"the metrics directory {directory} is not a directory private to this user "
            f"(it must be this user's, mode 0700): remove it, or set {config.METRICS_DIR.name} to another one"
        )
    config.METRICS_DIR.set(str(directory))
    return directory
