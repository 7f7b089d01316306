"""A whole flow on each blob store: a payload uploaded, encrypted inputs uploaded, a task run by a worker
process, hosted outputs written and downloaded; with ``--blobs s3://...`` every byte of it is in the object
store and none in the data directory."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from support.flow_scripts import JOIN_RESULT, load_flow
from support.s3 import S3Server, s3_location

from teabox.client import Client
from teabox.demo.flows import FlowLog
from teabox.platform.blob_location import parse_s3_url
from teabox.testing.local_server import LocalServer


def _s3_server_args(s3_server: S3Server) -> dict[str, object]:
    """``teabox serve`` options for a fresh prefix of the test store: the endpoint by flag, the key pair and
    region by the AWS variables (as an operator gives them)."""
    location = s3_location(s3_server)
    credentials = {k: v for k, v in s3_server.environment().items() if not k.startswith("AWS_ENDPOINT")}
    return {
        "extra_args": ("--blobs", location.url, "--s3-endpoint", s3_server.endpoint),
        "env": credentials,
    }


@pytest.mark.parametrize("store", ["local", "s3"])
def test_the_join_flow_keeps_its_bytes_in_the_chosen_store(
    store: str, request: pytest.FixtureRequest, start_platform_server: Callable[..., LocalServer]
) -> None:
    s3_server: S3Server | None = request.getfixturevalue("s3_server") if store == "s3" else None
    options = _s3_server_args(s3_server) if s3_server is not None else {}
    server = start_platform_server(workers=1, **options)
    with Client(server.url) as admin:
        admin.user_login(server.admin_id, server.admin_password)
        outputs = load_flow("join").join_flow(admin, FlowLog(say=lambda _text: None))
    assert list(outputs.values()) == [JOIN_RESULT] * 3

    local_blobs = [path for path in (server.data_dir / "blobs").glob("??/*")]
    if s3_server is None:
        assert len(local_blobs) >= 7  # the payload, three inputs, three outputs
        return
    assert local_blobs == []
    bucket, prefix = parse_s3_url(options["extra_args"][1])  # type: ignore[index]
    listed = s3_server.client().list_objects_v2(Bucket=bucket, Prefix=prefix)
    keys = [item["Key"] for item in listed.get("Contents", [])]
    assert len([key for key in keys if key.startswith(f"{prefix}blobs/")]) >= 7
    assert [key for key in keys if not key.startswith(f"{prefix}blobs/")] == [], "no partial write left"


def test_a_download_streams_from_the_object_store(
    s3_server: S3Server, start_platform_server: Callable[..., LocalServer], tmp_path: Path
) -> None:
    """Bytes larger than a part go up as a multipart write and come back through the API unchanged."""
    server = start_platform_server(workers=0, **_s3_server_args(s3_server))
    source = tmp_path / "big.bin"
    source.write_bytes(bytes(range(256)) * (40 * 4096 + 7))  # 40 MiB and a bit: five parts of 8 MiB
    with Client(server.url) as admin:
        admin.user_login(server.admin_id, server.admin_password)
        hosted = admin.upload_file(source)
        size = admin.download_file(hosted.url, tmp_path / "copy.bin")
    assert size == source.stat().st_size
    assert (tmp_path / "copy.bin").read_bytes() == source.read_bytes()
