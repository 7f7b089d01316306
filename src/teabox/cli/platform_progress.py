"""Progress bars for uploads, downloads and waits, drawn on stderr.

The SDK reports progress through plain callbacks; these adapt them to rich so
that a command's stdout stays clean for its result (an id, a JSON object).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

from rich.console import Console
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
    TransferSpeedColumn,
)

_console = Console(stderr=True)


@contextmanager
def transfer_bar(description: str) -> Iterator[Callable[[int, int | None], None]]:
    """A bar that fills as bytes move; yields the SDK's ``progress(done, total)`` callback."""
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
        console=_console,
        transient=False,
    ) as progress:
        task = progress.add_task(description, total=None)

        def update(done: int, total: int | None) -> None:
            progress.update(task, completed=done, total=total)

        yield update


# What a waiting task is doing, in the words a spinner shows.
_DOING = {
    "Created": "Created: waiting for its data",
    "DataAssigned": "DataAssigned: waiting for every owner's approval",
    "Approved": "Approved: waiting to be invoked",
    "Staged": "Staged: queued for a worker",
    "Running": "Running: a worker runs the payload",
}


def describe_status(status: str) -> str:
    return _DOING.get(status, status)


@contextmanager
def wait_spinner(description: str, status: str) -> Iterator[Callable[[str, float], None]]:
    """A spinner showing what the task is doing while waiting; yields the SDK's ``on_wait`` callback."""
    with Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        TextColumn("[bold]{task.fields[status]}"),
        TimeElapsedColumn(),
        console=_console,
        transient=False,
    ) as progress:
        task = progress.add_task(description, total=None, status=describe_status(status))

        def update(status: str, elapsed: float) -> None:
            progress.update(task, status=describe_status(status))

        yield update
