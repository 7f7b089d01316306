"""The worker's HTTP client: it connects only to addresses the egress policy allows.

Checking a URL's host name and then letting the HTTP library resolve it again
leaves a window in which DNS can answer a public address for the check and
``127.0.0.1`` for the connection (DNS rebinding). Here the name is resolved
once, every address is checked, and the socket is opened to a checked address;
the request still carries the original host in its ``Host`` header and TLS
server name, so certificates are verified against the name as usual.

Redirects are not followed (a redirect's target would be a URL nobody
registered), and proxy settings from the environment are ignored (through a
proxy, the address connected to would be the proxy's, not the one checked).
Every connection is a :class:`PacedStream`: its reads and writes wait no
longer than the running transfer's clock allows (:mod:`teabox.worker.pacing`).
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any

import httpcore
import httpx

from teabox.platform.egress import EgressPolicy, UrlRefused
from teabox.worker.pacing import bound_timeout, current_clock

_SocketOption = tuple[int, int, int] | tuple[int, int, bytes | bytearray] | tuple[int, int, None, int]


class VettedBackend(httpcore.NetworkBackend):
    """Resolve once, check every address against the policy, connect to an allowed one."""

    def __init__(self, policy: EgressPolicy) -> None:
        self.policy = policy
        self._sockets = httpcore.SyncBackend()

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[_SocketOption] | None = None,
    ) -> httpcore.NetworkStream:
        name = host.lower().removesuffix(".")
        allowed, refused = self._vet(name, port)
        if not allowed:
            address, rule = refused[0]
            raise UrlRefused(
                f"{name} resolves to {address}, in the refused range '{rule}' (the operator can allow it with "
                "--allow-url)",
                rule,
            )
        failure: httpcore.ConnectError | httpcore.ConnectTimeout | None = None
        for address in allowed:
            try:
                stream = self._sockets.connect_tcp(address, port, bound_timeout(timeout), local_address, socket_options)
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                failure = exc
                continue
            return PacedStream(stream)
        assert failure is not None
        raise failure

    def _vet(self, name: str, port: int) -> tuple[list[str], list[tuple[str, str]]]:
        """The resolved addresses split into allowed ones and refused ones with the rule that refused each."""
        try:
            infos = socket.getaddrinfo(name, port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP)
        except (socket.gaierror, UnicodeError) as exc:
            raise httpcore.ConnectError(f"cannot resolve {name}: {exc}") from exc
        allowed: list[str] = []
        refused: list[tuple[str, str]] = []
        for _family, _type, _proto, _canonical, sockaddr in infos:
            text = str(sockaddr[0])
            address = ipaddress.ip_address(text.partition("%")[0])
            rule = self.policy.refusal(name, port, address)
            if rule is None:
                if text not in allowed:
                    allowed.append(text)
            else:
                refused.append((text, rule))
        return allowed, refused

    def connect_unix_socket(
        self, path: str, timeout: float | None = None, socket_options: Iterable[_SocketOption] | None = None
    ) -> httpcore.NetworkStream:
        raise httpcore.ConnectError("workers do not connect to UNIX sockets")

    def sleep(self, seconds: float) -> None:
        self._sockets.sleep(seconds)


class PacedStream(httpcore.NetworkStream):
    """A connection whose reads and writes wait no longer than the current transfer's clock allows."""

    def __init__(self, stream: httpcore.NetworkStream) -> None:
        self._stream = stream

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        with _clocked():
            data = self._stream.read(max_bytes, bound_timeout(timeout))
        _count(len(data))
        return data

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        with _clocked():
            self._stream.write(buffer, bound_timeout(timeout))
        _count(len(buffer))

    def close(self) -> None:
        self._stream.close()

    def start_tls(
        self, ssl_context: Any, server_hostname: str | None = None, timeout: float | None = None
    ) -> httpcore.NetworkStream:
        with _clocked():
            return PacedStream(self._stream.start_tls(ssl_context, server_hostname, bound_timeout(timeout)))

    def get_extra_info(self, info: str) -> Any:
        return self._stream.get_extra_info(info)


@contextmanager
def _clocked() -> Iterator[None]:
    """Report a wait that timed out because the clock ran out as the clock's reason, not as a timeout."""
    try:
        yield
    except (httpcore.ReadTimeout, httpcore.WriteTimeout, httpcore.ConnectTimeout):
        clock = current_clock()
        if clock is not None:
            clock.check(slack=0.05)
        raise


def _count(moved: int) -> None:
    clock = current_clock()
    if clock is not None:
        clock.count(moved)
        clock.check()


def egress_client(policy: EgressPolicy, timeout_seconds: float) -> httpx.Client:
    """An httpx client for inputs and outputs: vetted connections, no redirects, no proxies from the environment."""
    transport = httpx.HTTPTransport(trust_env=False)
    # httpx builds its connection pool without a way to pass a network backend; this pool is the
    # one it would build (same TLS settings), with the vetting backend added.
    transport._pool = httpcore.ConnectionPool(
        ssl_context=httpx.create_ssl_context(), network_backend=VettedBackend(policy)
    )
    return httpx.Client(transport=transport, timeout=timeout_seconds, follow_redirects=False, trust_env=False)
