"""Messages between a worker and its sandbox processes: MessagePack frames, data only, with file descriptors.

Neither side ever unpickles what the other sent: a frame decodes to maps,
lists, strings, bytes and numbers, never to objects, so a compromised sandbox
process cannot make its parent run code by what it replies. A frame is an
8-byte little-endian length and that many bytes of MessagePack; descriptors
(a run's open inputs and outputs) travel with the length, as SCM_RIGHTS.
"""

from __future__ import annotations

import socket
import struct
from collections.abc import Sequence
from typing import Any

import msgpack  # type: ignore[import-untyped]

_HEADER = struct.Struct("<Q")


class WireError(Exception):
    """A frame that is malformed, too large, or cut short."""


def send(sock: socket.socket, message: dict[str, Any], fds: Sequence[int] = ()) -> None:
    body = msgpack.packb(message, use_bin_type=True)
    header = _HEADER.pack(len(body))
    if fds:
        socket.send_fds(sock, [header], list(fds))
    else:
        sock.sendall(header)
    sock.sendall(body)


def _receive_exactly(sock: socket.socket, size: int) -> bytes:
    chunks: list[bytes] = []
    remaining = size
    while remaining:
        chunk = sock.recv(min(remaining, 1 << 20))
        if not chunk:
            raise EOFError("the other side closed the connection mid-message")
        chunks.append(chunk)
        remaining -= len(chunk)
    return b"".join(chunks)


def receive(sock: socket.socket, *, max_bytes: int, max_fds: int = 0) -> tuple[dict[str, Any], list[int]]:
    """The next message and the descriptors that came with it; ``EOFError`` if the peer is gone."""
    header, fds, flags, _ = socket.recv_fds(sock, _HEADER.size, max_fds) if max_fds else (sock.recv(8), [], 0, None)
    if not header:
        raise EOFError("the other side closed the connection")
    try:
        if flags & socket.MSG_CTRUNC:
            raise WireError(f"more than {max_fds} file descriptors came with a message")
        header += _receive_exactly(sock, _HEADER.size - len(header))
        (size,) = _HEADER.unpack(header)
        if size > max_bytes:
            raise WireError(f"a message of {size} bytes is larger than the {max_bytes} allowed")
        message = msgpack.unpackb(_receive_exactly(sock, size), raw=False, strict_map_key=True)
        if not isinstance(message, dict):
            raise WireError(f"a message must be a map, not {type(message).__name__}")
    except BaseException as exc:
        for fd in fds:
            socket.close(fd)
        if isinstance(exc, ValueError | msgpack.UnpackException):
            raise WireError(str(exc)) from None
        raise
    return message, fds
