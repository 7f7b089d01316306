"""Replies from a sandbox process are data: a hostile one can fail its run, never run code in the worker."""

from __future__ import annotations

import os
import pickle
import socket
import struct
from pathlib import Path

import pytest

from teabox.executor import RunResult, wire


class _Plant:
    def __reduce__(self) -> tuple[object, tuple[str]]:
        return (os.mkdir, ("planted",))


def test_a_pickle_in_a_reply_stays_bytes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    ours, theirs = socket.socketpair()
    with ours, theirs:
        planted = tmp_path / "planted"
        wire.send(theirs, {"type": "result", "result": pickle.dumps(_Plant())})
        monkeypatch.chdir(tmp_path)
        message, fds = wire.receive(ours, max_bytes=1 << 20)
        assert isinstance(message["result"], bytes) and fds == []
        assert not planted.exists()
        with pytest.raises((TypeError, KeyError)):
            RunResult.from_dict(message["result"])


def test_a_reply_with_fields_of_the_wrong_type_is_refused() -> None:
    good = RunResult(return_value="1").to_dict()
    assert RunResult.from_dict(good).return_value == "1"
    for field, value in (("return_value", 1), ("peak_memory", "big"), ("diagnostics", [b"x"]), ("files", {"a": {}})):
        with pytest.raises((TypeError, KeyError)):
            RunResult.from_dict({**good, field: value})
    with pytest.raises(ValueError):
        RunResult.from_dict({**good, "failure": {"kind": "pwned", "message": "", "backtrace": []}})


def test_an_oversized_frame_is_refused_before_it_is_read() -> None:
    ours, theirs = socket.socketpair()
    with ours, theirs:
        theirs.sendall(struct.pack("<Q", 1 << 40))
        with pytest.raises(wire.WireError, match="larger than"):
            wire.receive(ours, max_bytes=1 << 20)


def test_descriptors_beyond_the_allowance_are_refused_and_closed() -> None:
    ours, theirs = socket.socketpair()
    with ours, theirs:
        extra = [os.open(os.devnull, os.O_RDONLY) for _ in range(3)]
        try:
            wire.send(theirs, {"type": "request"}, extra)
            with pytest.raises(wire.WireError, match="file descriptors"):
                wire.receive(ours, max_bytes=1 << 20, max_fds=1)
        finally:
            for fd in extra:
                os.close(fd)
