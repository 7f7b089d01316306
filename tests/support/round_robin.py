"""A TCP load balancer for tests: each new connection goes to the next backend that accepts it.

Enough to put several ``teabox serve`` processes behind one URL, as an
operator's load balancer would, and to see a backend die under it.
"""

from __future__ import annotations

import itertools
import socket
import threading
from collections import Counter

_CHUNK = 65536


class RoundRobin:
    def __init__(self, backends: list[int]) -> None:
        self.backends = backends
        self.connections: Counter[int] = Counter()  # backend port -> connections forwarded to it
        self._turn = itertools.cycle(range(len(backends)))
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = int(self._listener.getsockname()[1])
        self._closed = False
        threading.Thread(target=self._accept, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _accept(self) -> None:
        while not self._closed:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            backend = self._connect()
            if backend is None:
                client.close()
                continue
            for source, sink in ((client, backend), (backend, client)):
                threading.Thread(target=pipe, args=(source, sink), daemon=True).start()

    def _connect(self) -> socket.socket | None:
        for _ in self.backends:
            port = self.backends[next(self._turn)]
            try:
                backend = socket.create_connection(("127.0.0.1", port), timeout=5)
            except OSError:
                continue  # that server is down: the next one
            backend.settimeout(None)
            self.connections[port] += 1
            return backend
        return None

    def close(self) -> None:
        self._closed = True
        self._listener.close()


def pipe(source: socket.socket, sink: socket.socket) -> None:
    try:
        while data := source.recv(_CHUNK):
            sink.sendall(data)
    except OSError:
        pass
    finally:
        for end in (source, sink):
            try:
                end.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            end.close()
