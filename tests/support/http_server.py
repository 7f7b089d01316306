"""The one small HTTP file server of the tests: it records every request, serves and stores files,
and misbehaves on request. It is the worker's remote file server, the 'internal service' of the
egress tests, and the hostile server of the security tests (redirects, bytes dripped one at a time,
requests never answered, failures, a delete that keeps the bytes)."""

from __future__ import annotations

import socket
import ssl
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

# Only keeps a stalled or held request from outliving a broken test.
_GIVE_UP = 120.0


@dataclass
class Behaviour:
    """What the server answers: ``files`` for GET (PUT stores there, DELETE removes), ``fail`` maps a
    path to the status answered instead, ``redirects`` maps a path to a Location answered with 302,
    ``drip`` paths send their body one byte per ``drip_seconds``, and a request to a ``stall`` path is
    never answered (nor its body read). The first ``hold`` PUTs are read, then held unanswered until
    ``release`` is set (``put_arrived`` is set for each), then refused with 500. ``puts`` keeps every
    PUT body, by path, even those a DELETE removed."""

    files: dict[str, bytes] = field(default_factory=dict)
    fail: dict[str, int] = field(default_factory=dict)
    redirects: dict[str, str] = field(default_factory=dict)
    drip: set[str] = field(default_factory=set)
    drip_seconds: float = 0.05
    stall: set[str] = field(default_factory=set)
    hold: int = 0
    put_arrived: threading.Event = field(default_factory=threading.Event)
    release: threading.Event = field(default_factory=threading.Event)
    puts: dict[str, list[bytes]] = field(default_factory=dict)
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

    def _prelude(self) -> bytes | None:
        """Record the request and read its body; None when it was answered (or left unanswered) here."""
        behaviour = self.server.behaviour
        behaviour.requests.append((self.command, self.path))
        behaviour.hosts.append(self.headers.get("host", ""))
        if self.path in behaviour.stall:
            behaviour.stopping.wait(_GIVE_UP)
            return None
        # Read before any answer: closing on an unread body would reset the connection under the client.
        body = self.rfile.read(int(self.headers.get("content-length", "0")))
        if self.path in behaviour.fail:
            self._answer(behaviour.fail[self.path])
            return None
        return body

    def _answer(self, status: int) -> None:
        self.send_response(status)
        self.send_header("content-length", "0")
        self.end_headers()

    def do_GET(self) -> None:
        behaviour = self.server.behaviour
        if self._prelude() is None:
            return
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
        body = self._prelude()
        if body is None:
            return
        behaviour.puts.setdefault(self.path, []).append(body)
        if behaviour.hold > 0:
            behaviour.hold -= 1
            behaviour.put_arrived.set()
            behaviour.release.wait(_GIVE_UP)
            self._answer(500)
            return
        behaviour.files[self.path] = body
        self._answer(201)

    def do_DELETE(self) -> None:
        if self._prelude() is not None:
            self.server.behaviour.files.pop(self.path, None)
            self.send_response(204)
            self.end_headers()


@dataclass
class Recorder:
    behaviour: Behaviour
    host: str
    port: int

    @property
    def requests(self) -> list[tuple[str, str]]:
        return self.behaviour.requests

    @property
    def files(self) -> dict[str, bytes]:
        return self.behaviour.files

    @property
    def deleted(self) -> list[str]:
        return [path for method, path in self.behaviour.requests if method == "DELETE"]

    @property
    def base(self) -> str:
        return self.url("")

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
        behaviour.release.set()
        server.shutdown()
        server.server_close()
