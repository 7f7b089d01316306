"""Findings 10 and 11 (server side): oversized bodies and slow or idle connections.

Body limits hold on the bytes actually read, chunked bodies (no
Content-Length) included, and the service answers at the first byte over the
limit rather than after reading the whole body; a call that may carry a large
body must show its token first. Connections that send their headers or body
too slowly are answered 408 and closed, oversized headers 431, and when the
connection cap is reached the longest-waiting connection without a request in
progress makes room, so a prompt client is served while slow ones hold
connections. The server here uses small limits and one-second deadlines; the
deadlines only decide which answer comes, never whether a test passes in time.
"""

from __future__ import annotations

import socket
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from pathlib import Path

import httpx
import pytest
from support.service_calls import admin_token, error, new_user, post, raw_connection, read_answer

from teabox.testing.local_server import LocalServer

# Its tests share module-scoped servers: one pytest-xdist process runs them all, so each starts once.
pytestmark = pytest.mark.xdist_group("service_bodies")

MAX_REQUEST = 4096
MAX_UPLOAD = 65536
MAX_CONNECTIONS = 20


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalServer]:
    limits = {
        "--max-request-bytes": MAX_REQUEST,
        "--max-upload-bytes": MAX_UPLOAD,
        "--header-timeout": 1,
        "--body-timeout": 1,
        "--max-connections": MAX_CONNECTIONS,
        "--max-header-bytes": 8192,
    }
    args = tuple(str(part) for flag, value in limits.items() for part in (flag, value))
    running = LocalServer(Path(tmp_path_factory.mktemp("bodies")), workers=0, extra_args=args)
    running.start()
    yield running
    running.stop()


def chunked_request(path: str, token: str | None = None) -> bytes:
    auth = f"Authorization: Bearer {token}\r\n" if token else ""
    return f"POST {path} HTTP/1.1\r\nHost: teabox\r\n{auth}Transfer-Encoding: chunked\r\n\r\n".encode()


def chunk(data: bytes) -> bytes:
    return f"{len(data):x}\r\n".encode() + data + b"\r\n"


def status_of(answer: bytes) -> int:
    return int(answer.split(b" ", 2)[1]) if answer.startswith(b"HTTP/1.1 ") else 0


def test_a_chunked_json_body_is_refused_at_the_first_byte_over_the_limit(
    server: LocalServer, closer: ExitStack
) -> None:
    # The body never ends: a server reading it whole would wait, and answer 408 when it stalls.
    connection = raw_connection(closer, server, chunked_request("/api/v1/user_login"))
    for _ in range(MAX_REQUEST // 1024 + 1):
        connection.sendall(chunk(b" " * 1024))
    answer = read_answer(connection)
    assert status_of(answer) == 413 and b"too_large" in answer, answer


def test_an_announced_length_over_the_limit_is_refused_before_any_body(server: LocalServer, closer: ExitStack) -> None:
    head = f"POST /api/v1/user_login HTTP/1.1\r\nHost: teabox\r\nContent-Length: {MAX_REQUEST + 1}\r\n\r\n"
    answer = read_answer(raw_connection(closer, server, head.encode()))
    assert status_of(answer) == 413, answer


def test_a_large_body_is_not_read_before_the_token_is_checked(server: LocalServer, closer: ExitStack) -> None:
    # register_function may be as large as a payload: without a valid token, none of it is read.
    for token in (None, "forged"):
        connection = raw_connection(closer, server, chunked_request("/api/v1/register_function", token))
        connection.sendall(chunk(b'{"name": "f", "payload": "'))
        answer = read_answer(connection)
        assert status_of(answer) == 401, answer


def test_a_chunked_upload_is_refused_past_the_upload_limit(server: LocalServer, closer: ExitStack) -> None:
    _, me = new_user(server, admin_token(server), "DataOwner", "bodies")
    connection = raw_connection(closer, server, chunked_request("/api/v1/upload_file?name=big.enc", me))
    for _ in range(MAX_UPLOAD // 8192 + 1):
        connection.sendall(chunk(b"\0" * 8192))
    answer = read_answer(connection)
    assert status_of(answer) == 413, answer


def test_login_refuses_an_oversized_password_without_hashing_it(server: LocalServer) -> None:
    message = error(post(server, "user_login", {"user_id": "someone", "password": "p" * 1025}), 400)
    assert "password" in message


def test_slow_headers_slow_bodies_and_huge_headers_are_cut_off(server: LocalServer, closer: ExitStack) -> None:
    slow_head = raw_connection(closer, server, b"POST /api/v1/user_login HTTP/1.1\r\nHost: tea")
    slow_body = raw_connection(
        closer, server, b"POST /api/v1/user_login HTTP/1.1\r\nHost: teabox\r\nContent-Length: 100\r\n\r\n{"
    )
    huge_head = raw_connection(
        closer, server, b"GET /api/v1/health HTTP/1.1\r\n" + b"X-Filler: " + b"a" * 9000 + b"\r\n"
    )
    assert status_of(read_answer(slow_head)) == 408
    assert status_of(read_answer(slow_body)) == 408
    assert status_of(read_answer(huge_head)) == 431


def test_many_partial_connections_do_not_keep_a_prompt_client_out(server: LocalServer, closer: ExitStack) -> None:
    partial = [raw_connection(closer, server, b"GET /api/v1/health HTTP/1.1\r\nHo") for _ in range(5 * MAX_CONNECTIONS)]
    assert httpx.get(f"{server.url}/api/v1/health", timeout=60).status_code == 200
    answers = [read_answer(connection) for connection in partial]
    # Every partial connection was closed by the server: evicted to make room (no answer), or timed out (408).
    assert {status_of(answer) for answer in answers} <= {0, 408}
    assert sum(status_of(answer) == 0 for answer in answers) >= 4 * MAX_CONNECTIONS - 1


def test_the_service_still_answers_after_the_partial_connections(server: LocalServer) -> None:
    with socket.create_connection(("127.0.0.1", server.port), timeout=60) as connection:
        connection.sendall(b"GET /api/v1/health HTTP/1.1\r\nHost: teabox\r\nConnection: close\r\n\r\n")
        assert status_of(read_answer(connection)) == 200


def test_a_new_connection_is_refused_when_every_connection_has_a_request_in_progress(
    start_platform_server: Callable[..., LocalServer],
    closer: ExitStack,
) -> None:
    cap = 4
    server = start_platform_server(workers=0, extra_args=("--max-connections", str(cap), "--body-timeout", "600"))
    # Requests whose body is still coming: each is in progress, so none may be closed to make room.
    # "Expect: 100-continue" makes the server say when it has read the headers and waits for the body.
    head = b"POST /api/v1/user_login HTTP/1.1\r\nHost: teabox\r\nContent-Length: 100\r\nExpect: 100-continue\r\n\r\n"
    busy = [raw_connection(closer, server, head) for _ in range(cap)]
    for connection in busy:
        assert connection.recv(1024).startswith(b"HTTP/1.1 100")
    probe = b"GET /api/v1/health HTTP/1.1\r\nHost: teabox\r\nConnection: close\r\n\r\n"
    answer = read_answer(raw_connection(closer, server, probe))
    assert status_of(answer) == 503 and b"too_many_connections" in answer, answer
    for connection in busy:  # their places free again for the call below
        connection.close()
    assert httpx.get(f"{server.url}/api/v1/health", timeout=60).status_code == 200
