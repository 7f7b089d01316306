"""Streaming file transfer with progress reporting.

Files on the platform may be hundreds of megabytes, so neither direction ever
holds a whole file in memory, and a download lands under a temporary name that
is renamed into place only once complete: an interrupted download never leaves
a truncated file that looks finished.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import BinaryIO

CHUNK_SIZE = 1024 * 1024

# progress(bytes_done, bytes_total or None)
Progress = Callable[[int, int | None], None]


def read_chunks(source: BinaryIO, total: int | None, progress: Progress | None) -> Iterator[bytes]:
    """Yield ``source`` in chunks, reporting each one."""
    done = 0
    if progress:
        progress(0, total)
    while chunk := source.read(CHUNK_SIZE):
        done += len(chunk)
        if progress:
            progress(done, total)
        yield chunk


def write_atomically(
    chunks: Iterable[bytes], destination: str | os.PathLike[str], total: int | None, progress: Progress | None
) -> int:
    """Write ``chunks`` to ``destination`` via a temporary sibling; return the byte count."""
    destination = Path(destination)
    destination.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{destination.name}.", suffix=".part", dir=destination.parent)
    done = 0
    try:
        with os.fdopen(fd, "wb") as out:
            if progress:
                progress(0, total)
            for chunk in chunks:
                out.write(chunk)
                done += len(chunk)
                if progress:
                    progress(done, total)
        os.replace(tmp, destination)
    except BaseException:
        os.unlink(tmp)
        raise
    return done
