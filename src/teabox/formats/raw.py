"""The ``raw`` format: plaintext inputs, with no key, no IV and no integrity tag.

Teaclave accepts raw inputs for data that is not secret; teabox does the
same, and refuses to write raw files so that no output leaves unencrypted.
"""

from __future__ import annotations

from typing import BinaryIO

from teabox.formats.streams import CHUNK, Progress


def copy_stream(src: BinaryIO, dst: BinaryIO | None, progress: Progress | None = None) -> None:
    """Copy ``src`` to ``dst`` (or just read it through, if ``dst`` is None)."""
    buf = memoryview(bytearray(CHUNK))
    while n := src.readinto(buf):  # type: ignore[attr-defined]
        if dst is not None:
            dst.write(buf[:n])
        if progress:
            progress(n)
