"""The one owner of what a test opens for its whole length: the ``closer`` fixture.

A client (the SDK's ``Client``, an ``httpx.Client``, an ``Api`` session) holds sockets to a server. One
left open is closed later by the garbage collector, and the ``ResourceWarning`` it raises then lands
on whichever test happens to be running, which fails it. So a client that lives for one block is
opened in a ``with``; one that lives for the test is handed to ``closer.enter_context(...)``.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack

import pytest


@pytest.fixture
def closer() -> Iterator[ExitStack]:
    """``closer.enter_context(client)`` returns ``client`` and closes it when the test ends, passed or failed."""
    with ExitStack() as stack:
        yield stack
