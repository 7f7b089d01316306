"""Wake-ups through PostgreSQL's LISTEN/NOTIFY, for processes that share nothing but the database.

A notification is a signal only: it carries no data and says "look at the
database now", exactly like a datagram of :class:`~teabox.platform.notify.SocketNotifier`.
Each listener still looks every ``SAFETY_POLL_SECONDS`` on its own, so a
notification lost with a dropped connection costs latency, never a task.

One process holds one listening connection, whatever the number of its
listeners: a thread waits on that connection's socket and, for each
notification, writes a byte into the pipe of every listener of its topic.
So a listener's descriptor stays the same for its whole life (an event loop
can watch it) while the thread reconnects after a lost connection, waking
every listener once it is back, since notifications sent meanwhile are gone.
Notifying uses a second connection, in autocommit, after the change is
committed. Both connections come from the database engine, so they connect
exactly as the rest of the process does.
"""

from __future__ import annotations

import contextlib
import logging
import os
import select
import threading
from typing import Any

import psycopg
from sqlalchemy import Engine

from teabox.platform.notify import PipeListener, Topic

log = logging.getLogger(__name__)

# Channels are per topic and prefixed, so that teabox's notifications never meet another application's.
_CHANNELS = {topic: f"teabox_{topic.value}" for topic in Topic}
_TOPICS = {channel: topic for topic, channel in _CHANNELS.items()}
# How long the listening thread waits before trying a lost connection again.
_RECONNECT_SECONDS = 1.0


class PostgresNotifier:
    """NOTIFY after a commit; LISTEN on one connection per process, shared by its listeners."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._lock = threading.Lock()
        self._sender: psycopg.Connection[Any] | None = None
        self._listeners: dict[Topic, set[PostgresListener]] = {topic: set() for topic in Topic}
        self._thread: threading.Thread | None = None
        self._stop_read, self._stop_write = os.pipe()
        self._closed = False

    def _connect(self) -> psycopg.Connection[Any]:
        """A connection of the engine's own, taken out of its pool for good and put in autocommit."""
        pooled = self._engine.raw_connection()
        connection = pooled.driver_connection
        pooled.detach()
        assert isinstance(connection, psycopg.Connection), "the engine's driver is psycopg 3"
        connection.rollback()
        connection.autocommit = True
        return connection

    def _listening(self) -> psycopg.Connection[Any]:
        connection = self._connect()
        for channel in _CHANNELS.values():
            connection.execute(f"LISTEN {channel}")
        return connection

    def notify(self, topic: Topic) -> None:
        """Wake the listeners of ``topic`` in every process; a failure only logs, the listeners' poll covers it."""
        with self._lock:
            try:
                if self._sender is None:
                    self._sender = self._connect()
                self._sender.execute(f"NOTIFY {_CHANNELS[topic]}")
            except psycopg.Error as exc:
                log.warning("could not send a %s wake-up (listeners will poll): %s", topic.value, exc)
                self._drop_sender()

    def listen(self, topic: Topic) -> PostgresListener:
        """A listener of ``topic``; the process's first one opens the listening connection (which may raise)."""
        listener = PostgresListener(self, topic)
        with self._lock:
            if self._thread is None:
                connection = self._listening()
                self._thread = threading.Thread(
                    target=self._run, args=(connection,), name="teabox-pg-listen", daemon=True
                )
                self._thread.start()
            self._listeners[topic].add(listener)
        return listener

    def forget(self, listener: PostgresListener) -> None:
        with self._lock:
            self._listeners[listener.topic].discard(listener)

    def _ring(self, topics: set[Topic]) -> None:
        with self._lock:
            for topic in topics:
                for listener in self._listeners[topic]:
                    listener.ring()

    def _run(self, connection: psycopg.Connection[Any] | None) -> None:
        """The listening thread: pass notifications on until :meth:`close`, reconnecting when needed."""
        while True:
            if connection is None:
                try:
                    connection = self._listening()
                except psycopg.Error as exc:
                    log.warning("cannot listen for wake-ups (listeners poll meanwhile): %s", exc)
                    if select.select([self._stop_read], [], [], _RECONNECT_SECONDS)[0]:
                        return
                    continue
                self._ring(set(Topic))  # whatever was notified while the connection was down
            readable, _, _ = select.select([connection.fileno(), self._stop_read], [], [])
            if self._stop_read in readable:
                connection.close()
                return
            try:
                connection.pgconn.consume_input()
                topics: set[Topic] = set()
                while (notice := connection.pgconn.notifies()) is not None:
                    topic = _TOPICS.get(notice.relname.decode())
                    if topic is not None:
                        topics.add(topic)
            except psycopg.Error as exc:
                log.warning("the wake-up connection was lost, reconnecting: %s", exc)
                with contextlib.suppress(psycopg.Error):
                    connection.close()
                connection = None
                continue
            self._ring(topics)

    def _drop_sender(self) -> None:
        if self._sender is not None:
            with contextlib.suppress(psycopg.Error):
                self._sender.close()
            self._sender = None

    def close(self) -> None:
        with self._lock:
            if self._closed:
                return
            self._closed = True
            thread = self._thread
            self._drop_sender()
        os.write(self._stop_write, b"!")
        if thread is not None:
            thread.join()
        os.close(self._stop_read)
        os.close(self._stop_write)


class PostgresListener(PipeListener):
    """A pipe the notifier's listening thread writes to for each notification of ``topic``."""

    def __init__(self, notifier: PostgresNotifier, topic: Topic) -> None:
        super().__init__()
        self._notifier = notifier
        self.topic = topic

    def close(self) -> None:
        self._notifier.forget(self)
        super().close()
