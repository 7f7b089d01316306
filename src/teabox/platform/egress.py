"""Which http(s) URLs the platform may reach on its users' behalf.

A data owner names the URL a worker reads an input from or writes an output
to, so without a policy any user could make a worker GET from or PUT to the
operator's internal network (server-side request forgery). By default a
worker may reach only globally routable addresses; the operator opens more
with allow rules (``teabox serve --allow-url HOST[:PORT]|CIDR``).

The policy is applied twice. At registration, :meth:`EgressPolicy.check_url`
refuses what the URL alone tells: a malformed host, port or IPv6 literal,
control characters, a literal address (in any spelling) outside the policy.
In the worker, the same check runs again, and :meth:`EgressPolicy.refusal`
is asked about every address a name resolves to, right before the worker
connects to exactly that address (see :mod:`teabox.worker.http_client`), so
that DNS cannot answer one address for the check and another for the
connection.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from urllib.parse import SplitResult, urlsplit

from teabox.errors import TeaboxError

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

_DEFAULT_PORTS = {"http": 80, "https": 443}
_LABEL = re.compile(r"^[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?$")
# WHATWG URL parsing reads a host whose last label is a number as an IPv4 address, and the C
# resolver accepts decimal, octal and hexadecimal parts ("2130706433", "0x7f.1", "0177.1").
_NUMERIC_LABEL = re.compile(r"^(?:0x[0-9a-f]*|[0-9]+)$")
_FORBIDDEN_CHARACTERS = re.compile(r"[\x00-\x20\x7f\\]")


def _networks(*texts: str) -> tuple[IPNetwork, ...]:
    return tuple(ipaddress.ip_network(text) for text in texts)


# The address ranges refused by default, each with the name a refusal gives. The first match
# names the refusal; anything else that is not globally routable is refused as "special-purpose".
_REFUSED: tuple[tuple[str, tuple[IPNetwork, ...]], ...] = (
    ("IPv4-mapped IPv6", _networks("::ffff:0:0/96")),
    ("loopback", _networks("127.0.0.0/8", "::1/128")),
    ("unspecified", _networks("0.0.0.0/8", "::/128")),
    ("IPv4-compatible IPv6", _networks("::/96")),
    ("cloud metadata", _networks("169.254.169.254/32", "169.254.170.2/32", "100.100.100.200/32", "fd00:ec2::254/128")),
    ("private", _networks("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "fc00::/7")),
    ("shared (carrier-grade NAT)", _networks("100.64.0.0/10")),
    ("link-local", _networks("169.254.0.0/16", "fe80::/10")),
    ("multicast", _networks("224.0.0.0/4", "ff00::/8")),
    ("reserved", _networks("240.0.0.0/4")),
    (
        "IPv4-embedding IPv6 (NAT64, 6to4, Teredo)",
        _networks("64:ff9b::/96", "64:ff9b:1::/48", "2002::/16", "2001::/32"),
    ),
    ("site-local IPv6", _networks("fec0::/10")),
)


class UrlRefused(TeaboxError):
    """A URL the policy will not let a worker use; ``code`` tells a malformed URL from a refused one."""

    code = "url_not_allowed"

    def __init__(self, message: str, rule: str) -> None:
        super().__init__(message)
        self.message = message
        self.rule = rule


class MalformedUrl(UrlRefused):
    """The URL itself is broken (host, port, characters), whatever the policy."""

    code = "invalid_url"


def classify(address: IPAddress) -> str | None:
    """The name of the default rule that refuses ``address``, or None if it is globally routable."""
    for name, networks in _REFUSED:
        if any(address in network for network in networks):
            return name
    return None if address.is_global else "special-purpose (not globally routable)"


@dataclass(frozen=True)
class AllowRule:
    """One ``--allow-url`` rule: a host name, or an address range, optionally limited to one port."""

    text: str
    name: str | None = None
    network: IPNetwork | None = None
    port: int | None = None

    def allows(self, host: str, port: int, address: IPAddress | None) -> bool:
        if self.port is not None and port != self.port:
            return False
        if self.name is not None:
            return host == self.name
        assert self.network is not None
        return address is not None and address.version == self.network.version and address in self.network


def _port(text: str, where: str) -> int:
    if not text.isascii() or not text.isdigit() or not 0 < int(text) < 65536:
        raise MalformedUrl(f"{where}: '{text}' is not a port between 1 and 65535", "invalid port")
    return int(text)


def parse_allow_rule(text: str) -> AllowRule:
    """Parse ``HOST``, ``HOST:PORT``, ``[IPv6]:PORT`` or ``CIDR``; raises MalformedUrl naming the mistake."""
    where = f"allow rule '{text}'"
    rule = text.strip().lower()
    if "/" in rule:
        try:
            return AllowRule(text, network=ipaddress.ip_network(rule))
        except ValueError as exc:
            raise MalformedUrl(f"{where}: {exc}", "invalid CIDR") from exc
    port: int | None = None
    if rule.startswith("["):
        host, bracket, rest = rule[1:].partition("]")
        if not bracket or (rest and not rest.startswith(":")):
            raise MalformedUrl(f"{where}: an IPv6 address is written [address] or [address]:port", "invalid host")
        port = _port(rest[1:], where) if rest else None
    elif rule.count(":") == 1:
        host, _, port_text = rule.partition(":")
        port = _port(port_text, where)
    else:
        host = rule
    address = _literal_address(host, where)
    if address is not None:
        return AllowRule(text, network=ipaddress.ip_network(address), port=port)
    return AllowRule(text, name=_host_name(host, where), port=port)


def _literal_address(host: str, where: str) -> IPAddress | None:
    """The address a host literally spells, refusing spellings other than dotted decimal and RFC 4291."""
    if ":" in host:
        if "%" in host:
            raise MalformedUrl(f"{where}: IPv6 zone identifiers ('%…') are not accepted", "IPv6 zone identifier")
        try:
            return ipaddress.IPv6Address(host)
        except ValueError as exc:
            raise MalformedUrl(f"{where}: '{host}' is not a valid IPv6 address", "malformed IPv6") from exc
    bare = host[:-1] if host.endswith(".") else host
    if _NUMERIC_LABEL.match(bare.rsplit(".", 1)[-1]):
        try:
            return ipaddress.IPv4Address(bare)
        except ValueError:
            raise MalformedUrl(
                f"{where}: '{host}' is an IPv4 address in a decimal, octal, hexadecimal or shortened spelling; "
                "write it as four decimal numbers (a.b.c.d)",
                "non-standard IPv4 spelling",
            ) from None
    return None


def _host_name(host: str, where: str) -> str:
    name = host[:-1] if host.endswith(".") else host
    if not name or len(name) > 253 or not all(_LABEL.match(label) for label in name.split(".")):
        raise MalformedUrl(
            f"{where}: '{host}' is not a valid host name (letters, digits, '-' and '_' in dot-separated labels; "
            "write international names in their xn-- form)",
            "invalid host",
        )
    return name


@dataclass(frozen=True)
class UrlTarget:
    """Where an http(s) URL points: the normalised host, the port, and the address if the host is one."""

    scheme: str
    host: str
    port: int
    address: IPAddress | None


@dataclass(frozen=True)
class EgressPolicy:
    """The operator's allow rules on top of the default (globally routable addresses only)."""

    rules: tuple[AllowRule, ...] = ()

    @classmethod
    def from_texts(cls, texts: tuple[str, ...] | list[str]) -> EgressPolicy:
        return cls(tuple(parse_allow_rule(text) for text in texts))

    def refusal(self, host: str, port: int, address: IPAddress) -> str | None:
        """Why connecting to ``address`` for ``host:port`` is refused (a rule name), or None if it is allowed."""
        if any(rule.allows(host, port, address) for rule in self.rules):
            return None
        return classify(address)

    def check_url(self, url: str) -> UrlTarget:
        """Parse an http(s) URL and refuse it if its form, or its literal address, breaks the policy.

        A host name is not resolved here: its addresses are checked when a
        worker connects. ``localhost`` and ``*.localhost`` are loopback by
        definition (RFC 6761), so they are refused like ``127.0.0.1``.
        """
        parts = _split(url)
        scheme = parts.scheme.lower()
        if scheme not in _DEFAULT_PORTS:
            raise MalformedUrl(f"'{scheme}' is not http or https", "scheme")
        port = _url_port(parts.netloc) or _DEFAULT_PORTS[scheme]
        host = (parts.hostname or "").lower()
        if not host:
            raise MalformedUrl("the URL names no host", "missing host")
        address = _literal_address(host, "the URL's host")
        if address is None:
            host = _host_name(host, "the URL's host")
        target = UrlTarget(scheme, host, port, address)
        self._check_target(target)
        return target

    def _check_target(self, target: UrlTarget) -> None:
        candidates: tuple[IPAddress, ...]
        if target.address is not None:
            candidates = (target.address,)
        elif target.host == "localhost" or target.host.endswith(".localhost"):
            candidates = (ipaddress.IPv4Address("127.0.0.1"), ipaddress.IPv6Address("::1"))
        else:
            return
        refusals = [self.refusal(target.host, target.port, address) for address in candidates]
        if all(refusals):
            raise UrlRefused(
                f"the URL's host {target.host} is refused: {refusals[0]} addresses are not reachable from workers "
                "(the operator can allow them with --allow-url)",
                str(refusals[0]),
            )


def _url_port(netloc: str) -> int | None:
    """The port written in a URL's authority (None if none is), checked more strictly than urlsplit does."""
    host_port = netloc.rpartition("@")[2]
    if host_port.startswith("["):
        text = host_port.partition("]")[2]
    else:
        text = host_port[host_port.find(":") :] if ":" in host_port else ""
    if not text:
        return None
    if not text.startswith(":"):
        raise MalformedUrl(f"the URL's host is malformed: '{host_port}'", "malformed IPv6")
    return _port(text[1:], "the URL's port") if text[1:] else None


def _split(url: str) -> SplitResult:
    bad = _FORBIDDEN_CHARACTERS.search(url)
    if bad is not None:
        character = "a backslash" if bad.group() == "\\" else f"the control or space character {bad.group()!r}"
        raise MalformedUrl(
            f"the URL contains {character}; percent-encode it (CR and LF are never accepted)", "forbidden character"
        )
    try:
        return urlsplit(url)
    except ValueError as exc:
        raise MalformedUrl(f"the URL's host is malformed ({exc})", "malformed IPv6") from exc
