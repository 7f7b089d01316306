"""Removing the Prometheus figures the servers and workers of a test run left in memory.

Every ``teabox serve`` and ``teabox worker`` keeps its figures in a directory of
``/dev/shm`` named after its data directory (see teabox.platform.metrics_dir),
and many tests start them directly, with no ``LocalServer`` to remove it.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from teabox.platform.metrics_dir import default_metrics_dir


def remove_metrics_dirs_under(root: Path) -> None:
    """Remove the figures of every data directory under ``root`` (and of ``root``), and only those."""
    for directory in (root, *root.rglob("*")):
        if directory.is_dir() and not directory.is_symlink():
            shutil.rmtree(default_metrics_dir(directory), ignore_errors=True)
