"""Payload bytes by sha256, kept in the worker process between tasks.

A worker runs the same few functions over and over; reading tens of
megabytes from the blob store for every task would dominate a trivial run.
The bytes are checked against their hash once, when they enter the cache.
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from collections.abc import Callable

from teabox.errors import TeaboxError
from teabox.platform.staged import StagedTask


class PayloadUnavailable(TeaboxError):
    """The function's payload is missing from the blob store or does not match its hash."""


class PayloadCache:
    """A least-recently-used map sha256 -> payload bytes, bounded in total size."""

    def __init__(self, load: Callable[[StagedTask], bytes], max_bytes: int = 256 * 1024 * 1024) -> None:
        self._load = load
        self._max_bytes = max_bytes
        self._entries: OrderedDict[str, bytes] = OrderedDict()
        self._size = 0

    def get(self, task: StagedTask) -> bytes:
        """The payload of ``task``, loaded (for the task, which a remote platform checks) on a miss."""
        sha256 = task.payload_sha256
        payload = self._entries.get(sha256)
        if payload is not None:
            self._entries.move_to_end(sha256)
            return payload
        try:
            payload = self._load(task)
        except (OSError, KeyError, TeaboxError) as exc:
            raise PayloadUnavailable(f"the payload {sha256} cannot be read from the blob store: {exc}") from exc
        actual = hashlib.sha256(payload).hexdigest()
        if actual != sha256:
            raise PayloadUnavailable(
                f"the payload stored as {sha256} has the sha256 {actual}; the blob store is corrupt"
            )
        self._entries[sha256] = payload
        self._size += len(payload)
        while self._size > self._max_bytes and len(self._entries) > 1:
            _, evicted = self._entries.popitem(last=False)
            self._size -= len(evicted)
        return payload
