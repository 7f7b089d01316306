"""An object store that goes away: calls that need it are refused with 503 and a retry hint, nothing is
half-kept, and the platform carries on by itself once the store is back."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from urllib.parse import urlsplit

import pytest
from support.platform_api import Api, function_body, wat_payload
from support.s3 import S3Server, s3_location
from support.tcp_proxy import TcpProxy

from teabox.testing.local_server import LocalServer


@pytest.fixture
def proxy(s3_server: S3Server) -> Iterator[TcpProxy]:
    forwarder = TcpProxy(int(urlsplit(s3_server.endpoint).port or 0))
    yield forwarder
    forwarder.close()


def _refused_for_now(response_status: int, body: dict[str, object], retry_after: str | None) -> None:
    assert response_status == 503, body
    assert body["error"] == {
        "code": "blob_store_unavailable",
        "message": "the blob store cannot be reached or refused the request; retry later",
    }
    assert retry_after == "5"


def test_uploads_downloads_and_payloads_wait_for_the_store(
    open_api: Callable[[str], Api],
    s3_server: S3Server,
    proxy: TcpProxy,
    start_platform_server: Callable[..., LocalServer],
) -> None:
    location = s3_location(s3_server)
    credentials = {k: v for k, v in s3_server.environment().items() if not k.startswith("AWS_ENDPOINT")}
    server = start_platform_server(
        workers=0,
        extra_args=("--blobs", location.url, "--s3-endpoint", f"http://127.0.0.1:{proxy.port}"),
        env=credentials,
    )
    owner = open_api(server.url).login(server.admin_id, server.admin_password)
    kept = owner.http.post("/api/v1/upload_file", params={"name": "kept.bin"}, content=b"kept", headers=owner.headers())
    assert kept.status_code == 200, kept.text
    kept_url = kept.json()["url"]

    proxy.cut()
    upload = owner.http.post("/api/v1/upload_file", params={"name": "x.bin"}, content=b"x", headers=owner.headers())
    _refused_for_now(upload.status_code, upload.json(), upload.headers.get("retry-after"))
    download = owner.http.get("/api/v1/download_file", params={"url": kept_url}, headers=owner.headers())
    _refused_for_now(download.status_code, download.json(), download.headers.get("retry-after"))
    inline = owner.raw("register_function", function_body(wat_payload()))
    _refused_for_now(inline.status_code, inline.json(), inline.headers.get("retry-after"))
    log = server.log_path.read_text()
    assert f"the blob store {location.url}/ failed" in log, "the operator's log says which store and what failed"

    proxy.restore()
    download = owner.http.get("/api/v1/download_file", params={"url": kept_url}, headers=owner.headers())
    assert download.status_code == 200 and download.content == b"kept"
    assert owner.call("register_function", **function_body(wat_payload()))["function_id"]
