"""``--blobs URL`` and ``--s3-endpoint``: what names a store, and what is refused with which message."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest

from teabox.platform.blob_location import BlobLocation, BlobLocationError, parse_s3_url
from teabox.platform.blobs import LocalBlobStore
from teabox.platform.blobs_s3 import S3BlobStore
from teabox.platform.disk_space import DiskSpace


@pytest.mark.parametrize(
    ("url", "bucket", "prefix"),
    [
        ("s3://teabox", "teabox", ""),
        ("s3://teabox/", "teabox", ""),
        ("s3://teabox/platform", "teabox", "platform/"),
        ("s3://my.bucket-1/a//b/", "my.bucket-1", "a/b/"),
    ],
)
def test_s3_urls_name_a_bucket_and_a_prefix(url: str, bucket: str, prefix: str) -> None:
    assert parse_s3_url(url) == (bucket, prefix)


@pytest.mark.parametrize(
    ("url", "says"),
    [
        ("s3://Upper/x", "bucket name of 3-63 lowercase"),
        ("s3://ab", "bucket name of 3-63 lowercase"),
        ("s3://a..b/x", "bucket name of 3-63 lowercase"),
        ("s3://AKIA:secret@teabox/x", "credentials go in the AWS variables"),
        ("s3://teabox/x?versionId=1", "s3://bucket/prefix"),
        ("s3://teabox/x#y", "s3://bucket/prefix"),
        ("s3://teabox/a/../b", "may not contain '.' or '..'"),
        ("s3:///x", "bucket name"),
    ],
)
def test_bad_s3_urls_are_refused_with_what_is_wrong(url: str, says: str, tmp_path: Path) -> None:
    with pytest.raises(BlobLocationError, match=re.escape(f"--blobs '{url}'")) as refused:
        BlobLocation(url).open(tmp_path, DiskSpace(tmp_path))
    assert says in str(refused.value)


@pytest.mark.parametrize("url", ["ftp://host/blobs", "http://store/blobs", "file://otherhost/blobs"])
def test_other_schemes_are_refused(url: str, tmp_path: Path) -> None:
    with pytest.raises(BlobLocationError, match=r"a blob store is a folder .* or s3://bucket/prefix"):
        BlobLocation(url).open(tmp_path, DiskSpace(tmp_path))


def test_no_url_is_the_data_directorys_folder_and_a_path_or_file_url_another_folder(tmp_path: Path) -> None:
    default = BlobLocation().open(tmp_path, DiskSpace(tmp_path))
    assert isinstance(default, LocalBlobStore) and default.root == tmp_path / "blobs"
    elsewhere = tmp_path / "elsewhere"
    for url in (str(elsewhere), f"file://{elsewhere}"):
        store = BlobLocation(url).open(tmp_path, DiskSpace(tmp_path))
        assert isinstance(store, LocalBlobStore) and store.root == elsewhere
        sha256, _ = store.put(b"kept elsewhere")
        assert (elsewhere / sha256[:2] / sha256).read_bytes() == b"kept elsewhere"


def test_the_endpoint_comes_from_the_flag_then_the_aws_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AWS_ENDPOINT_URL_S3", raising=False)
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    assert BlobLocation("s3://teabox").endpoint() is None  # Amazon S3's own
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://general:1")
    assert BlobLocation("s3://teabox").endpoint() == "http://general:1"
    monkeypatch.setenv("AWS_ENDPOINT_URL_S3", "http://s3-only:2")
    assert BlobLocation("s3://teabox").endpoint() == "http://s3-only:2"
    assert BlobLocation("s3://teabox", "https://flag:3").endpoint() == "https://flag:3"


@pytest.mark.parametrize("endpoint", ["ftp://store", "store:9000", "http://key:secret@store:9000", "http://store?x=1"])
def test_bad_endpoints_are_refused(endpoint: str, tmp_path: Path) -> None:
    with pytest.raises(BlobLocationError, match=re.escape(f"S3 endpoint '{endpoint}'") + ".*without credentials"):
        BlobLocation("s3://teabox", endpoint).open(tmp_path, DiskSpace(tmp_path))


def test_an_s3_location_opens_an_s3_store_without_a_request(tmp_path: Path) -> None:
    """Opening sends nothing (the endpoint here does not exist): a worker or server fails at its first use."""
    store = BlobLocation("s3://teabox/p", "http://127.0.0.1:9").open(tmp_path, DiskSpace(tmp_path))
    assert isinstance(store, S3BlobStore)
    assert (store.bucket, store.prefix, repr(store)) == ("teabox", "p/", "s3://teabox/p/")


def test_without_the_s3_extra_the_message_says_what_to_install(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "boto3", None)  # what an install without boto3 raises on import
    with pytest.raises(BlobLocationError, match=r"needs boto3, .* 's3' extra: run pip install '\.\[s3\]'"):
        BlobLocation("s3://teabox/p").open(tmp_path, DiskSpace(tmp_path))
