"""Helpers shared by the test suites: real servers the tests start, and the clients that talk to them.

Test modules import from here (``from support.postgres import PostgresCluster``), never from a
``conftest``; the fixtures that wrap these helpers are registered as plugins in ``tests/conftest.py``.
"""
