"""Fixtures shared by the worker tests: a real HTTP file server and transfer settings."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from support.s3 import s3_location
from worker_support import LOCAL_SERVERS, LocalPlatform

from teabox.platform.core import Platform
from teabox.platform.settings import Settings
from teabox.platform.storage import Storage
from teabox.worker.fetch import TransferPolicy, Transfers


@dataclass
class FileServer:
    """An HTTP server on 127.0.0.1 that serves and stores bytes by path.

    ``files`` holds what GET returns and what PUT stored; ``fail`` maps a path
    to a status code answered instead; ``slow`` paths answer after ``delay`` s.
    """

    base: str = ""
    files: dict[str, bytes] = field(default_factory=dict)
    fail: dict[str, int] = field(default_factory=dict)
    slow: set[str] = field(default_factory=set)
    delay: float = 3.0
    requests: list[tuple[str, str]] = field(default_factory=list)

    def url(self, path: str) -> str:
        return self.base + path


def _handler(server: FileServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

        def _prelude(self) -> bool:
            server.requests.append((self.command, self.path))
            if self.path in server.slow:
                time.sleep(server.delay)
            if self.path in server.fail:
                self.send_response(server.fail[self.path])
                self.send_header("content-length", "0")
                self.end_headers()
                return False
            return True

        def do_GET(self) -> None:
            if not self._prelude():
                return
            body = server.files.get(self.path)
            if body is None:
                self.send_error(404)
                return
            self.send_response(200)
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_PUT(self) -> None:
            length = int(self.headers.get("content-length", "0"))
            body = self.rfile.read(length)
            if not self._prelude():
                return
            server.files[self.path] = body
            self.send_response(200)
            self.send_header("content-length", "0")
            self.end_headers()

        def do_DELETE(self) -> None:
            if not self._prelude():
                return
            server.files.pop(self.path, None)
            self.send_response(204)
            self.end_headers()

    return Handler


@pytest.fixture
def file_server() -> Iterator[FileServer]:
    state = FileServer()
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _handler(state))
    httpd.daemon_threads = True
    state.base = f"http://127.0.0.1:{httpd.server_address[1]}"
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield state
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture
def allowed_dir(tmp_path: Path) -> Path:
    directory = tmp_path / "allowed"
    directory.mkdir()
    return directory


@pytest.fixture
def transfers(allowed_dir: Path) -> Iterator[Transfers]:
    t = Transfers(
        TransferPolicy(
            allowed_dirs=(allowed_dir,),
            max_input_bytes=10_000,
            max_output_bytes=10_000,
            timeout_seconds=1.0,
            egress=LOCAL_SERVERS,
        )
    )
    yield t
    t.close()


@pytest.fixture
def local(
    request: pytest.FixtureRequest, tmp_path: Path, new_database: Callable[[], str | None]
) -> Iterator[LocalPlatform]:
    """A platform in this process; parametrized indirectly with "s3", its blobs are in the test S3 server."""
    files = tmp_path / "files"
    files.mkdir()
    blobs = None
    if getattr(request, "param", "local") == "s3":
        server = request.getfixturevalue("s3_server")
        monkeypatch = request.getfixturevalue("monkeypatch")
        for name, value in server.environment().items():
            monkeypatch.setenv(name, value)
        blobs = s3_location(server)
    storage = Storage.open(tmp_path / "data", database_url=new_database(), blobs=blobs)
    platform = Platform(storage, Settings(allowed_file_dirs=(files,)))
    platform.create_admin("admin", "admin-password")
    admin = platform.authenticate(
        platform.call("user_login", None, {"user_id": "admin", "password": "admin-password"})["token"]
    )
    yield LocalPlatform(platform, admin, files)
    storage.close()
