"""Demonstrations, not SDK: the two-party millionaire flow of ``teabox quickstart`` and what the example
flows in ``examples/flows`` share (narration, fresh users, building the example payloads)."""
