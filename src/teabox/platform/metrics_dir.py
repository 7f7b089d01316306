"""Where the Prometheus figures of several processes on one machine meet.

``teabox serve`` is one API process plus worker processes, and more processes
may share its data directory (``teabox worker``). Each records its histograms
and counters in files of its own, in prometheus_client's multiprocess mode,
and a scrape of ``/metrics`` adds up every file in the directory, so the
figures of all of them are counted exactly once whichever process answers.
Files of processes that have exited stay and keep counting: totals only grow,
as a Prometheus counter must; removing the directory while nothing runs sets
them back to zero, like a restart. Figures that are the queue's state (tasks by
state, queue depth) are not kept here at all: they are read from the database
at each scrape (see :mod:`teabox.platform.queue_metrics`).

The mode is chosen when ``prometheus_client`` is first imported, from the
``PROMETHEUS_MULTIPROC_DIR`` environment variable, so :func:`share_metrics`
runs before that import and the processes a command spawns inherit it.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from teabox.platform.private_files import prepare_data_dir, private_dir

MULTIPROCESS_ENV = "PROMETHEUS_MULTIPROC_DIR"
METRICS_DIR = "metrics"


def share_metrics(data_dir: Path) -> Path:
    """Record this process's figures, and those of the processes it starts, in one shared directory.

    The directory is ``PROMETHEUS_MULTIPROC_DIR`` when the operator set it, else ``DATA_DIR/metrics``;
    it is created 0700 (the files name no user, task or file, but the figures are the operator's).
    """
    if "prometheus_client" in sys.modules and MULTIPROCESS_ENV not in os.environ:
        raise RuntimeError("share_metrics() must run before prometheus_client is imported")
    default = prepare_data_dir(Path(data_dir).resolve()) / METRICS_DIR
    return private_dir(Path(os.environ.setdefault(MULTIPROCESS_ENV, str(default))))
