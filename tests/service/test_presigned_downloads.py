"""Downloads answered with a presigned URL of the object store (``teabox serve --presign-downloads``).

One real ``teabox serve`` on a real SeaweedFS, signing for ``--s3-public-endpoint`` (the store's
address spelled ``localhost``, as a client would reach a public name): an authorised download is a
307 to a URL of that one blob, which the store serves without any token and refuses once changed,
used to write, or expired; a refused download gets no URL; the SDK and the CLI follow the
redirect; the console and the embedded default still stream.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import time
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from support.payloads import concat_payload
from support.platform_api import wat_payload
from support.remote_workers import hosted_task
from support.s3 import S3Server, s3_location

from teabox.client import Client, NotFound
from teabox.platform.blob_location import BlobLocation, BlobLocationError
from teabox.platform.disk_space import DiskSpace
from teabox.service.answers import ErrorBody
from teabox.service.presigned_downloads import PresignedDownloads
from teabox.testing.local_server import LocalServer, teabox_command

# Its tests share module-scoped servers: one pytest-xdist process runs them all, so each starts once.
pytestmark = pytest.mark.xdist_group("presigned_downloads")

LIFETIME = 60
PASSWORD = "a long enough password"


@pytest.fixture(scope="module")
def public_endpoint(s3_server: S3Server) -> str:
    return s3_server.endpoint.replace("127.0.0.1", "localhost")


@pytest.fixture(scope="module")
def server(
    s3_server: S3Server, public_endpoint: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LocalServer]:
    blobs = s3_location(s3_server)
    extra = ("--blobs", blobs.url or "", "--presign-downloads", str(LIFETIME))
    env = {**s3_server.environment(), "TEABOX_S3_PUBLIC_ENDPOINT": public_endpoint}
    with LocalServer(tmp_path_factory.mktemp("presigning"), workers=1, extra_args=extra, env=env) as running:
        yield running


def _client(closer: ExitStack, server: LocalServer, role: str = "") -> Client:
    """The admin, or a fresh user of ``role`` (registered by the admin), logged in; ``closer`` closes them."""
    admin = closer.enter_context(Client(server.url))
    admin.user_login(server.admin_id, server.admin_password)
    if not role:
        return admin
    user_id = f"{role.lower()}-{os.urandom(4).hex()}"
    admin.user_register(user_id, PASSWORD, role, "bank")
    user = closer.enter_context(Client(server.url))
    user.user_login(user_id, PASSWORD)
    return user


def _get(server: LocalServer, client: Client, operation: str, **params: str) -> httpx.Response:
    headers = {"Authorization": f"Bearer {client.token}"} if client.token else {}
    return httpx.get(f"{server.url}/api/v1/{operation}", params=params, headers=headers)


def test_an_authorised_download_redirects_to_a_short_lived_url_of_that_blob_alone(
    server: LocalServer, public_endpoint: str, tmp_path: Path, closer: ExitStack
) -> None:
    alice, bob = _client(closer, server, "DataOwner"), _client(closer, server, "DataOwner")
    (tmp_path / "a.enc").write_bytes(b"alice's ciphertext")
    (tmp_path / "b.enc").write_bytes(b"bob's ciphertext")
    mine, theirs = alice.upload_file(tmp_path / "a.enc", "a b.enc"), bob.upload_file(tmp_path / "b.enc", "b.enc")

    answer = _get(server, alice, "download_file", url=mine.url)
    assert answer.status_code == 307
    assert answer.headers["cache-control"] == "no-store"
    location = answer.headers["location"]
    parts = urlsplit(location)
    assert f"{parts.scheme}://{parts.netloc}" == public_endpoint
    assert mine.sha256 == hashlib.sha256(b"alice's ciphertext").hexdigest()
    assert parts.path.endswith(f"/blobs/{mine.sha256}")
    assert parse_qs(parts.query)["X-Amz-Expires"] == [str(LIFETIME)]

    fetched = httpx.get(location)  # no token: the URL is its own credential
    assert fetched.status_code == 200 and fetched.content == b"alice's ciphertext"
    assert fetched.headers["content-disposition"] == "attachment; filename*=UTF-8''a%20b.enc"

    # It cannot be turned into another blob, a longer life or a write.
    other = location.replace(mine.sha256, theirs.sha256)
    assert other != location and httpx.get(other).status_code == 403
    longer = location.replace(f"X-Amz-Expires={LIFETIME}", "X-Amz-Expires=604800")
    assert longer != location and httpx.get(longer).status_code == 403
    assert httpx.put(location, content=b"replaced").status_code == 403
    assert httpx.get(location).content == b"alice's ciphertext"


def test_a_refused_download_gets_no_url(server: LocalServer, tmp_path: Path, closer: ExitStack) -> None:
    alice, bob = _client(closer, server, "DataOwner"), _client(closer, server, "DataOwner")
    (tmp_path / "a.enc").write_bytes(b"alice's ciphertext")
    mine = alice.upload_file(tmp_path / "a.enc", "a.enc")
    reserved = alice.reserve_file("later.enc")
    nobody = closer.enter_context(Client(server.url))
    for client, url, status in [
        (bob, mine.url, 403),  # another user
        (nobody, mine.url, 401),  # no token
        (alice, mine.url.replace(mine.file_id, "0" * 32), 404),  # no such file
        (alice, reserved.url, 409),  # not written yet
    ]:
        answer = _get(server, client, "download_file", url=url)
        assert answer.status_code == status, answer.text
        assert "location" not in answer.headers and "X-Amz" not in answer.text
        ErrorBody.model_validate_json(answer.content, strict=True)
    private = _client(closer, server).register_function("private", "", "wamr", public=False, payload=wat_payload())
    answer = _get(server, bob, "download_payload", function_id=private)
    assert answer.status_code == 403 and "location" not in answer.headers


def test_the_sdk_and_the_cli_follow_the_redirect(server: LocalServer, tmp_path: Path, closer: ExitStack) -> None:
    admin = _client(closer, server)
    payload = concat_payload(["in"], ["out"])
    task_id, _, output = hosted_task(admin, payload, b"the task's input\n", tmp_path)
    assert admin.wait_for_task(task_id, 300).return_value == str(len(b"the task's input\n"))
    admin.fetch_output(output.data_id, output.crypto, tmp_path / "out.txt")  # download_file, then decrypt
    assert (tmp_path / "out.txt").read_bytes() == b"the task's input\n"
    admin.download_file(output.url, tmp_path / "out.enc")

    # The console decrypts in the browser, which may fetch from its own origin only: it still streams.
    with httpx.Client(base_url=server.url) as browser:
        browser.post("/console/login", data={"user_id": server.admin_id, "password": server.admin_password})
        streamed = browser.get(f"/console/files/{output.data_id}/ciphertext")
    assert streamed.status_code == 200 and streamed.content == (tmp_path / "out.enc").read_bytes()

    function_id = admin.get_task(task_id).function_id
    assert admin.download_payload(function_id, tmp_path / "copy.wasm") == len(payload)
    assert (tmp_path / "copy.wasm").read_bytes() == payload
    assert admin.get_function(function_id)["payload"] == payload

    (tmp_path / "up.enc").write_bytes(b"through the command line")
    hosted = admin.upload_file(tmp_path / "up.enc", "up.enc")
    env = {**os.environ, "TEABOX_URL": server.url, "TEABOX_TOKEN": admin.token or ""}
    done = subprocess.run(
        teabox_command("download", hosted.url, str(tmp_path / "down.enc")),
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "down.enc").read_bytes() == b"through the command line"


def test_the_sdk_reports_what_the_store_refused(
    server: LocalServer, s3_server: S3Server, tmp_path: Path, closer: ExitStack
) -> None:
    alice = _client(closer, server, "DataOwner")
    (tmp_path / "gone.enc").write_bytes(os.urandom(64))  # bytes of its own: no other test shares the blob
    hosted = alice.upload_file(tmp_path / "gone.enc", "gone.enc")
    location = urlsplit(_get(server, alice, "download_file", url=hosted.url).headers["location"])
    bucket, key = location.path.lstrip("/").split("/", 1)
    s3_server.client().delete_object(Bucket=bucket, Key=key)  # the store lost it
    with pytest.raises(NotFound) as refused:
        alice.download_file(hosted.url, tmp_path / "never")
    assert refused.value.code == "download_refused_by_store"
    assert "NoSuchKey" in refused.value.message
    assert not (tmp_path / "never").exists()


def test_an_expired_url_is_refused_by_the_store(
    s3_server: S3Server, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in s3_server.environment().items():
        monkeypatch.setenv(name, value)
    location = s3_location(s3_server)
    sha256, _ = location.open(tmp_path, DiskSpace(tmp_path)).put(b"short-lived")
    presigned = PresignedDownloads.configure(location, 1, None)
    assert presigned is not None
    url = presigned.url(sha256, "application/octet-stream", "attachment")
    time.sleep(2.5)  # past its one second: X-Amz-Date is rounded down, never up
    expired = httpx.get(url)
    assert expired.status_code == 403 and "expired" in expired.text


def test_presigning_is_refused_where_it_cannot_work(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in {
        "AWS_ACCESS_KEY_ID": "id",
        "AWS_SECRET_ACCESS_KEY": "secret",
        "AWS_DEFAULT_REGION": "us-east-1",
    }.items():
        monkeypatch.setenv(name, value)
    s3 = BlobLocation("s3://teabox/p", "http://127.0.0.1:9")
    refusals = [
        (BlobLocation(), 60, None, "needs an S3 blob store"),
        (BlobLocation("/srv/blobs"), 60, None, "needs an S3 blob store"),
        (s3, None, "http://s3.example", "--presign-downloads is not set"),
        (s3, 0, None, "1 to 3600 seconds"),
        (s3, 3601, None, "1 to 3600 seconds"),
        (s3, 60, "ftp://s3.example", "give the store's base URL"),
        (s3, 60, "http://key:secret@s3.example", "without credentials"),
    ]
    for blobs, seconds, public, message in refusals:
        with pytest.raises(BlobLocationError, match=message):
            PresignedDownloads.configure(blobs, seconds, public)
    assert PresignedDownloads.configure(BlobLocation(), None, None) is None
    # Signing sends nothing: a store nobody answers at (port 9) still gets its URLs.
    signing = PresignedDownloads.configure(s3, 60, "https://s3.example")
    assert signing is not None
    url = signing.url("ab" * 32, "application/octet-stream", "attachment")
    assert url.startswith(f"https://s3.example/teabox/p/blobs/{'ab' * 32}?") and "X-Amz-Expires=60" in url


def test_the_default_still_streams_through_the_server(
    platform_server: LocalServer, admin_client: Client, tmp_path: Path
) -> None:
    admin = admin_client
    (tmp_path / "f.enc").write_bytes(b"streamed")
    hosted = admin.upload_file(tmp_path / "f.enc", "f.enc")
    answer = _get(platform_server, admin, "download_file", url=hosted.url)
    assert answer.status_code == 200 and answer.content == b"streamed"
    assert "location" not in answer.headers


def test_serve_refuses_presigning_a_blob_folder_before_it_serves(tmp_path: Path) -> None:
    done = subprocess.run(
        teabox_command("serve", "--data-dir", str(tmp_path / "data"), "--port", "0", "--workers", "0"),
        capture_output=True,
        text=True,
        env={**os.environ, "TEABOX_PRESIGN_DOWNLOADS": "60"},
        timeout=120,
    )
    assert done.returncode == 1
    assert "Error: --presign-downloads needs an S3 blob store" in done.stderr
    assert "Traceback" not in done.stderr and "teabox serving" not in done.stderr
    assert not (tmp_path / "data").exists()
