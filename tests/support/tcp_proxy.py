"""A TCP forwarder on 127.0.0.1 that a test can cut and restore: a server's outage, as its clients see it."""

from __future__ import annotations

import socket
import threading

from support.round_robin import pipe


class TcpProxy:
    """Forwards connections to ``127.0.0.1:target``; while cut, every connection is closed at once."""

    def __init__(self, target: int) -> None:
        self.target = target
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = int(self._listener.getsockname()[1])
        self._cut = False
        self._open: set[socket.socket] = set()
        self._lock = threading.Lock()
        threading.Thread(target=self._accept, daemon=True).start()

    def cut(self) -> None:
        """Drop every connection, and every new one, until :meth:`restore`."""
        with self._lock:
            self._cut = True
            for connection in self._open:
                connection.close()
            self._open.clear()

    def restore(self) -> None:
        with self._lock:
            self._cut = False

    def close(self) -> None:
        self.cut()
        self._listener.close()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return  # closed
            with self._lock:
                if self._cut:
                    client.close()
                    continue
                upstream = socket.create_connection(("127.0.0.1", self.target))
                self._open.update((client, upstream))
            for source, sink in ((client, upstream), (upstream, client)):
                threading.Thread(target=pipe, args=(source, sink), daemon=True).start()
