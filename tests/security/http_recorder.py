"""A small HTTP server that records every request: the 'internal service' of the egress tests,
or the hostile file server (redirects, bytes dripped one at a time)."""

from __future__ import annotations

import socket
import ssl
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass
class Behaviour:
    """What the server answers: ``files`` for GET (PUT stores there), ``redirects`` maps a path to a
    Location answered with 302, ``drip`` paths send their body one byte per ``drip_seconds``, and a PUT
    to a ``stall`` path is never read."""

    files: dict[str, bytes] = field(default_factory=dict)
    redirects: dict[str, str] = field(default_factory=dict)
    drip: set[str] = field(default_factory=set)
    drip_seconds: float = 0.05
    stall: set[str] = field(default_factory=set)
    requests: list[tuple[str, str]] = field(default_factory=list)
    hosts: list[str] = field(default_factory=list)
    stopping: threading.Event = field(default_factory=threading.Event)


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address: tuple[str, int], behaviour: Behaviour, family: socket.AddressFamily) -> None:
        self.address_family = family
        self.behaviour = behaviour
        super().__init__(address, _Handler)


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def log_message(self, *args: object) -> None:
        pass

    def do_GET(self) -> None:
        behaviour = self.server.behaviour
        behaviour.requests.append(("GET", self.path))
        behaviour.hosts.append(self.headers.get("host", ""))
        if self.path in behaviour.redirects:
            self.send_response(302)
            self.send_header("location", behaviour.redirects[self.path])
            self.send_header("content-length", "0")
            self.end_headers()
            return
        body = behaviour.files.get(self.path)
        if body is None:
            self.send_error(404)
            return
        self.send_response(200)
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        if self.path not in behaviour.drip:
            self.wfile.write(body)
            return
        try:
            for byte in body:
                self.wfile.write(bytes([byte]))
                self.wfile.flush()
                if behaviour.stopping.wait(behaviour.drip_seconds):
                    return
        except OSError:
            pass  # the client gave up, as it should

    def do_PUT(self) -> None:
        behaviour = self.server.behaviour
        behaviour.requests.append(("PUT", self.path))
        if self.path in behaviour.stall:
            behaviour.stopping.wait(120)
            return
        behaviour.files[self.path] = self.rfile.read(int(self.headers.get("content-length", "0")))
        self.send_response(201)
        self.send_header("content-length", "0")
        self.end_headers()


@dataclass
class Recorder:
    behaviour: Behaviour
    host: str
    port: int

    @property
    def requests(self) -> list[tuple[str, str]]:
        return self.behaviour.requests

    def url(self, path: str, host: str | None = None) -> str:
        shown = host or (f"[{self.host}]" if ":" in self.host else self.host)
        return f"http://{shown}:{self.port}{path}"


@contextmanager
def recording_server(
    host: str = "127.0.0.1", behaviour: Behaviour | None = None, *, port: int = 0, tls: ssl.SSLContext | None = None
) -> Iterator[Recorder]:
    """Serve on ``host`` (a free port unless ``port``), over TLS if ``tls`` is a server context."""
    behaviour = behaviour or Behaviour()
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    server = _Server((host, port), behaviour, family)
    if tls is not None:
        server.socket = tls.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield Recorder(behaviour, host, server.server_address[1])
    finally:
        behaviour.stopping.set()
        server.shutdown()
        server.server_close()
