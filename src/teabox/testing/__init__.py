"""Harness for tests, benchmarks and the quickstart: a throw-away ``teabox serve`` process."""
