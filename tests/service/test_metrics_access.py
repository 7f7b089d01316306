"""Who may read /metrics, decided on the TCP peer's address and the token: the cases a server test cannot
reach from 127.0.0.1 (IPv6 peers, IPv4 peers seen through an IPv6 socket, no peer at all)."""

from __future__ import annotations

import hashlib

from teabox.service.metrics_access import MetricsAccess


def _scope(address: str | None) -> dict[str, object]:
    return {"client": (address, 40000) if address is not None else None}


def test_networks_match_ipv4_ipv6_and_ipv4_seen_through_ipv6() -> None:
    access = MetricsAccess.configure(None, ("10.1.0.0/16", "fd00::/8"))
    assert access.allows(_scope("10.1.2.3"), None)
    assert access.allows(_scope("::ffff:10.1.2.3"), None)
    assert access.allows(_scope("fd00::5"), None)
    for outside in ("10.2.0.1", "::ffff:10.2.0.1", "fe80::1", "not an address", None):
        assert not access.allows(_scope(outside), None), outside


def test_the_token_is_compared_whole_and_only_as_a_bearer_token() -> None:
    token = "t" * 40
    access = MetricsAccess(token_sha256=hashlib.sha256(token.encode()).digest())
    assert access.enabled
    assert access.allows(_scope(None), f"Bearer {token}")
    assert access.allows(_scope(None), f"bearer {token}")
    for wrong in (f"Bearer {token[:-1]}", f"Token {token}", token, "Bearer ", ""):
        assert not access.allows(_scope("127.0.0.1"), wrong), wrong
    assert not MetricsAccess().enabled
