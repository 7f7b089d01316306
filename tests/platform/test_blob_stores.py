"""The two blob stores behave alike: the local folder and an S3-API object store (a real SeaweedFS)."""

from __future__ import annotations

import hashlib
import io
import re
import time
import tracemalloc
from collections.abc import Iterator
from pathlib import Path

import pytest
from support.s3 import S3Server, s3_location

from teabox.platform.blob_location import BlobLocation
from teabox.platform.blobs import BlobStore, LocalBlobStore
from teabox.platform.blobs_s3 import MIB, BlobStoreError, S3BlobStore
from teabox.platform.disk_space import DiskSpace
from teabox.platform.errors import NoSuchObject, TooLarge

_PART = 5 * MIB  # S3's smallest part: multipart writes and copies happen at test sizes


@pytest.fixture(params=["local", "s3"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> BlobStore:
    if request.param == "local":
        return BlobLocation().open(tmp_path, DiskSpace(tmp_path))
    return request.getfixturevalue("s3_store")


@pytest.fixture
def s3_store(s3_server: S3Server, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> S3BlobStore:
    """A fresh prefix of the test server's bucket, opened as ``--blobs`` opens it (credentials from the
    AWS variables), with S3's smallest parts."""
    server = s3_server
    for name, value in server.environment().items():
        monkeypatch.setenv(name, value)
    opened = s3_location(server).open(tmp_path, DiskSpace(tmp_path))
    assert isinstance(opened, S3BlobStore)
    opened.part_bytes = opened.copy_part_bytes = _PART
    return opened


def _pieces(total: int, piece: int = MIB) -> Iterator[bytes]:
    """``total`` bytes in pieces, each made when asked for (so the test itself holds one piece at a time)."""
    for start in range(0, total, piece):
        yield hashlib.sha256(str(start).encode()).digest() * (min(piece, total - start) // 32)


def _partial_writes(store: BlobStore) -> list[str]:
    """What partial writes the store holds: part files, or unfinished uploads and temporary objects."""
    if isinstance(store, LocalBlobStore):
        return [path.name for path in (store.root / "tmp").iterdir()]
    assert isinstance(store, S3BlobStore)
    client, bucket, tmp = store.client, store.bucket, f"{store.prefix}tmp/"
    uploads = client.list_multipart_uploads(Bucket=bucket, Prefix=tmp).get("Uploads", [])
    objects = client.list_objects_v2(Bucket=bucket, Prefix=tmp).get("Contents", [])
    return [item["Key"] for item in uploads + objects]


@pytest.mark.parametrize("size", [0, 1000, 2 * _PART + 123])
def test_bytes_a_path_and_a_stream_store_alike_and_read_back(store: BlobStore, tmp_path: Path, size: int) -> None:
    data = b"".join(_pieces(size, 64)) + b"x" * (size % 64)
    expected = hashlib.sha256(data).hexdigest()
    (tmp_path / "src").write_bytes(data)

    assert store.put(data) == (expected, len(data))
    assert store.put(tmp_path / "src") == (expected, len(data))
    assert store.put(io.BytesIO(data)) == (expected, len(data))

    assert store.exists(expected) and store.size(expected) == len(data)
    assert store.read(expected) == data
    with store.open(expected) as reader:
        assert reader.read(10) == data[:10]
        assert reader.read() == data[10:]
    assert _partial_writes(store) == []


def test_a_write_in_pieces_is_invisible_until_commit_and_gone_when_aborted(store: BlobStore) -> None:
    data = b"".join(_pieces(2 * _PART + 5))
    sha256 = hashlib.sha256(data).hexdigest()
    with store.writer() as writer:
        for start in range(0, len(data), MIB):
            writer.write(data[start : start + MIB])
        assert _partial_writes(store) != [], "parts are written as they come"
        assert not store.exists(sha256)
        writer.abort()
    assert not store.exists(sha256)
    assert _partial_writes(store) == []


def test_an_exception_in_the_with_block_drops_the_write(store: BlobStore) -> None:
    with pytest.raises(RuntimeError), store.writer() as writer:
        for piece in _pieces(_PART + 1):
            writer.write(piece)
        raise RuntimeError("the client went away")
    assert _partial_writes(store) == []


def test_a_write_over_its_limit_is_refused_and_keeps_nothing(store: BlobStore) -> None:
    with pytest.raises(TooLarge, match="larger than the 6291456-byte limit"):
        store.put(_pieces_file(7 * MIB), max_bytes=6 * MIB)
    assert _partial_writes(store) == []
    assert store.older_than(-60) == []


def _pieces_file(total: int) -> io.BytesIO:
    return io.BytesIO(b"".join(_pieces(total)))


def test_writing_the_same_bytes_again_keeps_one_blob_and_makes_it_young(store: BlobStore) -> None:
    sha256, _ = store.put(b"same bytes")
    time.sleep(1.1)  # object stores keep modification times to the second
    assert store.older_than(1.0) == [sha256]
    assert store.put(b"same bytes")[0] == sha256
    assert store.older_than(1.0) == []
    assert store.older_than(-60) == [sha256], "one blob"


def test_missing_and_malformed_blob_ids_are_no_such_object(store: BlobStore) -> None:
    missing = "0" * 64
    assert not store.exists(missing)
    for read in (store.open, store.read, store.size):
        with pytest.raises(NoSuchObject, match=f"no blob {missing}"):
            read(missing)
    for bad in ("../../etc/passwd", "A" * 64, "0" * 64 + "\n", ""):
        assert not store.exists(bad)
        with pytest.raises(NoSuchObject, match="is not a blob id"):
            store.open(bad)


def test_remove(store: BlobStore) -> None:
    sha256, _ = store.put(b"short-lived")
    store.remove(sha256)
    assert not store.exists(sha256)
    store.remove(sha256)  # removing twice is no error


def test_a_64_mib_upload_and_download_hold_a_few_parts_in_memory_not_the_blob(store: BlobStore) -> None:
    total = 64 * MIB
    tracemalloc.start()
    try:
        with store.writer() as writer:
            for piece in _pieces(total):
                writer.write(piece)
            sha256 = writer.commit()
        _, upload_peak = tracemalloc.get_traced_memory()
        tracemalloc.reset_peak()
        digest = hashlib.sha256()
        with store.open(sha256) as reader:
            while piece := reader.read(MIB):
                digest.update(piece)
        _, download_peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert digest.hexdigest() == sha256 and store.size(sha256) == total
    # A whole blob buffered would be 64 MiB; what streams holds two parts at most (5 MiB here).
    assert upload_peak < 16 * MIB, f"upload peak {upload_peak / MIB:.1f} MiB"
    assert download_peak < 8 * MIB, f"download peak {download_peak / MIB:.1f} MiB"


# -- what only the S3 store has -----------------------------------------------------------------


def test_a_write_never_replaces_an_object_already_under_the_blobs_name(s3_store: S3BlobStore) -> None:
    """Conditional writes: an object that is there (here planted with other bytes) keeps its bytes."""
    data = b"".join(_pieces(_PART + 7))
    sha256 = hashlib.sha256(data).hexdigest()
    for small_or_large in (b"tiny", data):
        sha = hashlib.sha256(small_or_large).hexdigest()
        s3_store.client.put_object(Bucket=s3_store.bucket, Key=s3_store.key(sha), Body=b"planted")
        assert s3_store.put(small_or_large)[0] == sha
        assert s3_store.read(sha) == b"planted"
    assert sha256 in s3_store.older_than(-60)
    assert _partial_writes(s3_store) == []


def test_keys_stay_under_the_prefix(s3_store: S3BlobStore) -> None:
    sha256, _ = s3_store.put(b"under the prefix")
    assert s3_store.prefix.endswith("/teabox/")
    listed = s3_store.client.list_objects_v2(Bucket=s3_store.bucket, Prefix=s3_store.prefix.split("/")[0])
    assert [item["Key"] for item in listed["Contents"]] == [f"{s3_store.prefix}blobs/{sha256}"]


def test_the_sweep_removes_only_partial_writes_older_than_its_age(s3_store: S3BlobStore) -> None:
    """What a killed writer left: an upload never completed, and a temporary object never copied."""
    client, bucket = s3_store.client, s3_store.bucket
    dead = s3_store.writer()
    for piece in _pieces(_PART + 1):
        dead.write(piece)  # one part sent, then the writer is gone without a word
    client.put_object(Bucket=bucket, Key=f"{s3_store.prefix}tmp/left-over", Body=b"copied never")
    kept, _ = s3_store.put(b"a blob is no partial write")
    assert len(_partial_writes(s3_store)) == 2

    assert s3_store.sweep_partial() == [], "younger than a day: perhaps still being written"
    time.sleep(1.1)
    s3_store.partial_max_age = 1.0
    left = _partial_writes(s3_store)
    assert sorted(s3_store.sweep_partial()) == sorted(left)
    assert _partial_writes(s3_store) == []
    assert s3_store.read(kept) == b"a blob is no partial write"


def test_refused_credentials_fail_with_the_stores_name_and_keep_nothing(
    s3_store: S3BlobStore, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "not-the-secret")
    url = f"s3://{s3_store.bucket}/{s3_store.prefix}"
    refused = BlobLocation(url, s3_store.client.meta.endpoint_url).open(tmp_path, DiskSpace(tmp_path))
    for attempt in (lambda: refused.put(b"small"), lambda: refused.put(_pieces_file(_PART * 2))):
        with pytest.raises(
            BlobStoreError, match=rf"the blob store {re.escape(url)} failed (put_object|create_multipart_upload)"
        ):
            attempt()
    with pytest.raises(BlobStoreError, match=r"SignatureDoesNotMatch|AccessDenied"):
        refused.sweep_partial()
    assert _partial_writes(s3_store) == [] and s3_store.older_than(-60) == []


def test_s3_reads_stream_from_the_store_not_from_a_copy(s3_store: S3BlobStore) -> None:
    """A blob removed behind the store's back is gone for the next reader: nothing is cached locally."""
    sha256, _ = s3_store.put(b"read me twice")
    assert s3_store.read(sha256) == b"read me twice"
    s3_store.client.delete_object(Bucket=s3_store.bucket, Key=s3_store.key(sha256))
    with pytest.raises(NoSuchObject):
        s3_store.read(sha256)
