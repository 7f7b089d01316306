"""Wake-ups between processes: "a task may be claimable", "a task has ended".

The database is the only truth; a wake-up only says "look again now". A
process that changes the queue pokes the other processes after its commit,
so idle workers and waiting requests sleep until there is something to see
instead of polling the database every few milliseconds. Each listener still
looks at the database now and then on its own (``poll_seconds``), so a
wake-up that never arrives costs latency, never correctness.

On one machine (SQLite) a listener is a UNIX datagram socket in the data
directory's ``wake/`` folder, named after its topic; a poke is one datagram
to each socket of that topic. On PostgreSQL, processes on several machines
share the database's LISTEN/NOTIFY instead (:mod:`teabox.platform.notify_postgres`).
:class:`PollingNotifier`, whose listeners poll as often as waiting needs, is
for a queue used without any of these (a test's queue on its own).
"""

from __future__ import annotations

import contextlib
import errno
import os
import secrets
import select
import socket
from enum import StrEnum
from pathlib import Path
from typing import Protocol

# How often a listener with a working wake-up looks at the database regardless.
SAFETY_POLL_SECONDS = 0.5
# How often a listener without one looks: what waiting costs in latency.
FAST_POLL_SECONDS = 0.002
# AF_UNIX addresses are at most 108 bytes with the terminating NUL.
_MAX_ADDRESS = 107


class Topic(StrEnum):
    QUEUE = "queue"  # a task became claimable: staged, or put back after its worker was lost
    RESULTS = "results"  # a task ended: finished, failed or canceled


class Listener(Protocol):
    """One process's subscription to a topic."""

    poll_seconds: float  # look at the database at least this often, wake-up or not

    def fileno(self) -> int | None:
        """A descriptor that becomes readable on a wake-up (for event loops), or None."""
        ...

    def drain(self) -> None:
        """Forget the wake-ups received so far; call it *before* looking at the database."""
        ...

    def wait(self, timeout: float) -> bool:
        """Block until a wake-up or ``timeout``; return whether there was a wake-up."""
        ...

    def ring(self) -> None:
        """Wake this listener's own waiter (e.g. to make it notice a stop request)."""
        ...

    def close(self) -> None: ...


class Notifier(Protocol):
    def notify(self, topic: Topic) -> None:
        """Wake every listener of ``topic``; call it after the commit it announces."""
        ...

    def listen(self, topic: Topic) -> Listener: ...

    def close(self) -> None: ...


class SocketNotifier:
    """Wake-ups through UNIX datagram sockets in ``directory`` (one machine)."""

    def __init__(self, directory: Path) -> None:
        self.directory = Path(directory)
        self.directory.mkdir(mode=0o700, exist_ok=True)
        self._sender = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self._sender.setblocking(False)
        # Long data directory paths do not fit in a socket address; a descriptor of the directory does.
        self._dir_fd = os.open(self.directory, os.O_RDONLY | os.O_DIRECTORY)

    def address(self, name: str) -> str:
        path = str(self.directory / name)
        return path if len(os.fsencode(path)) <= _MAX_ADDRESS else f"/proc/self/fd/{self._dir_fd}/{name}"

    def notify(self, topic: Topic) -> None:
        prefix = f"{topic.value}."
        for name in os.listdir(self.directory):
            if name.startswith(prefix):
                self._send(name)

    def _send(self, name: str) -> None:
        try:
            self._sender.sendto(b"!", self.address(name))
        except (BlockingIOError, InterruptedError):
            pass  # its queue is full of wake-ups already
        except (ConnectionRefusedError, FileNotFoundError):
            with contextlib.suppress(FileNotFoundError):
                os.unlink(self.directory / name)  # nobody is bound to it: its process has gone
        except OSError as exc:
            if exc.errno not in (errno.ENOBUFS, errno.EAGAIN):
                raise

    def listen(self, topic: Topic) -> SocketListener:
        return SocketListener(self, f"{topic.value}.{os.getpid()}.{secrets.token_hex(4)}")

    def close(self) -> None:
        self._sender.close()
        os.close(self._dir_fd)


class SocketListener:
    """A bound datagram socket; every datagram in it is a pending wake-up."""

    poll_seconds = SAFETY_POLL_SECONDS

    def __init__(self, notifier: SocketNotifier, name: str) -> None:
        self._notifier, self._name = notifier, name
        self._socket = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self._socket.setblocking(False)
        self._socket.bind(notifier.address(name))

    def fileno(self) -> int | None:
        return self._socket.fileno()

    def drain(self) -> None:
        with contextlib.suppress(BlockingIOError):
            while True:
                self._socket.recv(64)

    def wait(self, timeout: float) -> bool:
        readable, _, _ = select.select([self._socket], [], [], max(0.0, timeout))
        return bool(readable)

    def ring(self) -> None:
        self._notifier._send(self._name)

    def close(self) -> None:
        self._socket.close()
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self._notifier.directory / self._name)


class PollingNotifier:
    """No wake-ups: listeners look at the database every ``poll_seconds``."""

    def __init__(self, poll_seconds: float = FAST_POLL_SECONDS) -> None:
        self.poll_seconds = poll_seconds

    def notify(self, topic: Topic) -> None:
        pass

    def listen(self, topic: Topic) -> PollingListener:
        return PollingListener(self.poll_seconds)

    def close(self) -> None:
        pass


class PipeListener:
    """A listener whose wake-ups are bytes in a pipe of its own: whoever learns of a change writes one."""

    poll_seconds = SAFETY_POLL_SECONDS

    def __init__(self) -> None:
        self._read, self._write = os.pipe()
        os.set_blocking(self._read, False)
        os.set_blocking(self._write, False)

    def fileno(self) -> int | None:
        return self._read

    def drain(self) -> None:
        with contextlib.suppress(BlockingIOError):
            while os.read(self._read, 64):
                pass

    def wait(self, timeout: float) -> bool:
        readable, _, _ = select.select([self._read], [], [], max(0.0, timeout))
        return bool(readable)

    def ring(self) -> None:
        with contextlib.suppress(BlockingIOError):
            os.write(self._write, b"!")

    def close(self) -> None:
        os.close(self._read)
        os.close(self._write)


class PollingListener(PipeListener):
    """Waits by sleeping; every wait ends as if woken, since anything may have changed."""

    def __init__(self, poll_seconds: float) -> None:
        super().__init__()
        self.poll_seconds = poll_seconds

    def fileno(self) -> int | None:
        return None

    def wait(self, timeout: float) -> bool:
        super().wait(min(timeout, self.poll_seconds))
        return True
