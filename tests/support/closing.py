"""The one owner of what a test opens for its whole length: the ``closer`` fixture.

A client (the SDK's ``Client``, an ``httpx.Client``, an ``Api`` session) or a raw socket holds a
connection to a server. One left open is closed later by the garbage collector, and the
``ResourceWarning`` it raises then (an error in this suite) lands on whichever test happens to be
running. So a client that lives for one block is opened in a ``with``; one that lives for the test is
handed to ``closer.enter_context(...)``.

``--collect-garbage`` collects after each test, so such a warning fails the test that leaked and
``python -X tracemalloc=20 -m pytest`` adds where the object was made. It is off by default: a full
collection after each test costs about an eighth of a test directory's CPU time.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import ExitStack

import pytest


@pytest.fixture
def closer() -> Iterator[ExitStack]:
    """``closer.enter_context(client)`` returns ``client`` and closes it when the test ends, passed or failed."""
    with ExitStack() as stack:
        yield stack


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--collect-garbage",
        action="store_true",
        help="collect garbage after each test, so that an unclosed resource fails the test that left it",
    )


def pytest_configure(config: pytest.Config) -> None:
    if config.getoption("--collect-garbage"):
        config.pluginmanager.register(_CollectAfterEachTest(), "collect-garbage")


class _CollectAfterEachTest:
    @pytest.fixture(autouse=True)
    def _collect_garbage(self) -> Iterator[None]:
        yield
        gc.collect()
