"""Who may read ``/metrics``: holders of the metrics token, or clients at addresses the operator allows.

The figures name no user, task or file, but they tell how busy the platform
is and which calls fail, which is the operator's business alone. So nobody may
read them until the operator says who may: ``--metrics-token-file`` (a secret
of at least 32 characters in a file only its owner can read; Prometheus sends
it as ``Authorization: Bearer``) and/or ``--metrics-allow CIDR`` (the scraper's
network). The address is the TCP peer's: the service trusts no forwarding
header, so a client cannot claim an allowed address, but a proxy on an allowed
address forwards everyone's requests from that address; never allow the load
balancer's own address.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import Any

MIN_TOKEN_CHARS = 32
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


class MetricsAccessError(ValueError):
    """A metrics token file or allowed network that cannot be used; the message names it and the fix."""


@dataclass(frozen=True)
class MetricsAccess:
    token_sha256: bytes | None = None
    networks: tuple[IPNetwork, ...] = ()

    @classmethod
    def configure(cls, token_file: Path | None, allowed: tuple[str, ...]) -> MetricsAccess:
        return cls(_read_token(token_file) if token_file is not None else None, tuple(map(_network, allowed)))

    @property
    def enabled(self) -> bool:
        return self.token_sha256 is not None or bool(self.networks)

    def allows(self, scope: Any, authorization: str | None) -> bool:
        """Whether this request may read the figures: the right token, or an allowed client address."""
        if self.token_sha256 is not None and authorization is not None:
            scheme, _, token = authorization.partition(" ")
            if scheme.lower() == "bearer" and hmac.compare_digest(_digest(token.strip()), self.token_sha256):
                return True
        client = scope.get("client")
        if not self.networks or not client:
            return False
        try:
            address = ipaddress.ip_address(client[0])
        except ValueError:
            return False
        if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
            address = address.ipv4_mapped
        return any(address in network for network in self.networks)


def _digest(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()


def _read_token(path: Path) -> bytes:
    try:
        mode = stat.S_IMODE(path.stat().st_mode)
        token = path.read_text().strip()
    except (OSError, UnicodeDecodeError) as exc:
        raise MetricsAccessError(f"cannot read the metrics token file {path}: {exc}") from None
    if mode & 0o077:
        raise MetricsAccessError(
            f"the metrics token file {path} may be read by other users (mode {mode:04o}): `chmod 600 {path}`"
        )
    if len(token) < MIN_TOKEN_CHARS or any(char.isspace() for char in token):
        raise MetricsAccessError(
            f"the metrics token in {path} must be one word of at least {MIN_TOKEN_CHARS} characters "
            "(e.g. `openssl rand -hex 32`)"
        )
    return _digest(token)


def _network(text: str) -> IPNetwork:
    try:
        return ipaddress.ip_network(text.strip(), strict=False)
    except ValueError:
        raise MetricsAccessError(
            f"--metrics-allow {text!r} is not an address or network (e.g. 10.0.5.0/24, 192.0.2.7, fd00::/8)"
        ) from None
