"""Downloads and uploads for every URL scheme, including each refusal."""

from __future__ import annotations

import base64
import os
from pathlib import Path

import pytest

from teabox.worker.fetch import TransferError, TransferPolicy, Transfers, describe_url


def test_file_url_under_an_allowed_directory_is_copied(transfers: Transfers, allowed_dir: Path, tmp_path: Path) -> None:
    (allowed_dir / "in.enc").write_bytes(b"secret bytes")
    assert transfers.download((allowed_dir / "in.enc").as_uri(), tmp_path / "got") == 12
    assert (tmp_path / "got").read_bytes() == b"secret bytes"


def test_file_url_outside_the_allowed_directories_is_refused(transfers: Transfers, tmp_path: Path) -> None:
    outside = tmp_path / "outside.txt"
    outside.write_bytes(b"x")
    with pytest.raises(TransferError, match="not under a directory the administrator allows"):
        transfers.download(outside.as_uri(), tmp_path / "got")


def test_dot_dot_cannot_escape_an_allowed_directory(transfers: Transfers, allowed_dir: Path, tmp_path: Path) -> None:
    (tmp_path / "outside.txt").write_bytes(b"x")
    with pytest.raises(TransferError, match="not under a directory"):
        transfers.download(f"file://{allowed_dir}/../outside.txt", tmp_path / "got")


def test_a_symbolic_link_cannot_lead_outside(transfers: Transfers, allowed_dir: Path, tmp_path: Path) -> None:
    (tmp_path / "outside.txt").write_bytes(b"x")
    os.symlink(tmp_path / "outside.txt", allowed_dir / "link.txt")
    with pytest.raises(TransferError, match="not under a directory"):
        transfers.download((allowed_dir / "link.txt").as_uri(), tmp_path / "got")


def test_without_allowed_directories_file_urls_are_refused(tmp_path: Path) -> None:
    (tmp_path / "a").write_bytes(b"x")
    with pytest.raises(TransferError, match="not under a directory"):
        Transfers().download((tmp_path / "a").as_uri(), tmp_path / "got")


def test_a_missing_file_is_named(transfers: Transfers, allowed_dir: Path, tmp_path: Path) -> None:
    with pytest.raises(TransferError, match=r"missing.enc does not exist"):
        transfers.download((allowed_dir / "missing.enc").as_uri(), tmp_path / "got")


def test_an_oversized_file_is_refused(transfers: Transfers, allowed_dir: Path, tmp_path: Path) -> None:
    (allowed_dir / "big").write_bytes(b"x" * 10_001)
    with pytest.raises(TransferError, match="larger than the 10000-byte limit"):
        transfers.download((allowed_dir / "big").as_uri(), tmp_path / "got")


def test_a_local_file_is_read_in_place_under_the_same_rules(
    transfers: Transfers, allowed_dir: Path, tmp_path: Path
) -> None:
    (allowed_dir / "in.enc").write_bytes(b"secret bytes")
    with transfers.open_seekable((allowed_dir / "in.enc").as_uri(), lambda: tmp_path / "copy") as opened:
        assert opened.read() == b"secret bytes"
    assert not (tmp_path / "copy").exists()
    (allowed_dir / "big").write_bytes(b"x" * 10_001)
    with pytest.raises(TransferError, match="larger than the 10000-byte limit"):
        transfers.open_seekable((allowed_dir / "big").as_uri(), lambda: tmp_path / "copy")
    with pytest.raises(TransferError, match=r"missing\.enc does not exist"):
        transfers.open_seekable((allowed_dir / "missing.enc").as_uri(), lambda: tmp_path / "copy")
    with pytest.raises(TransferError, match="not under a directory"):
        transfers.open_seekable(f"file://{allowed_dir}/../in.enc", lambda: tmp_path / "copy")


def test_a_remote_input_is_downloaded_for_reading(transfers: Transfers, file_server, tmp_path: Path) -> None:
    file_server.files["/in"] = b"remote bytes"
    with transfers.open_seekable(file_server.url("/in"), lambda: tmp_path / "copy") as opened:
        assert opened.read() == b"remote bytes"
    assert (tmp_path / "copy").read_bytes() == b"remote bytes"
    file_server.files["/big"] = b"x" * 20_000
    with pytest.raises(TransferError, match="larger than the 10000-byte limit"):
        transfers.open_seekable(file_server.url("/big"), lambda: tmp_path / "big")


def test_http_get(transfers: Transfers, file_server, tmp_path: Path) -> None:
    file_server.files["/data/in.enc"] = b"remote bytes"
    assert transfers.download(file_server.url("/data/in.enc"), tmp_path / "got") == 12
    assert (tmp_path / "got").read_bytes() == b"remote bytes"


def test_http_404_names_the_url_and_status(transfers: Transfers, file_server, tmp_path: Path) -> None:
    with pytest.raises(TransferError) as caught:
        transfers.download(file_server.url("/nothing.enc"), tmp_path / "got")
    assert "GET" in str(caught.value) and "/nothing.enc" in str(caught.value) and "404" in str(caught.value)


def test_http_500_is_an_error(transfers: Transfers, file_server, tmp_path: Path) -> None:
    file_server.files["/in"] = b"x"
    file_server.behaviour.fail["/in"] = 500
    with pytest.raises(TransferError, match="answered 500"):
        transfers.download(file_server.url("/in"), tmp_path / "got")


def test_http_oversized_is_refused(transfers: Transfers, file_server, tmp_path: Path) -> None:
    file_server.files["/big"] = b"x" * 20_000
    with pytest.raises(TransferError, match="larger than the 10000-byte limit"):
        transfers.download(file_server.url("/big"), tmp_path / "got")


def test_http_timeout(transfers: Transfers, file_server, tmp_path: Path) -> None:
    file_server.files["/slow"] = b"x"
    file_server.behaviour.stall.add("/slow")
    with pytest.raises(TransferError, match=r"GET .*/slow timed out"):
        transfers.download(file_server.url("/slow"), tmp_path / "got")


def test_an_unreachable_server_is_an_error(transfers: Transfers, tmp_path: Path) -> None:
    with pytest.raises(TransferError, match=r"GET http://127.0.0.1:9/x failed"):
        transfers.download("http://127.0.0.1:9/x", tmp_path / "got")


def test_data_urls(transfers: Transfers, tmp_path: Path) -> None:
    encoded = base64.b64encode(b"\x00\x01binary").decode()
    transfers.download(f"data:application/octet-stream;base64,{encoded}", tmp_path / "a")
    assert (tmp_path / "a").read_bytes() == b"\x00\x01binary"
    transfers.download("data:text/plain,4211037", tmp_path / "b")
    assert (tmp_path / "b").read_bytes() == b"4211037"
    with pytest.raises(TransferError, match="larger than the 10000-byte limit"):
        transfers.download("data:text/plain," + "x" * 10_001, tmp_path / "c")


def test_unsupported_schemes_are_refused(transfers: Transfers, tmp_path: Path) -> None:
    with pytest.raises(TransferError, match="inputs cannot be read from ftp URLs"):
        transfers.download("ftp://example/x", tmp_path / "got")
    (tmp_path / "out").write_bytes(b"x")
    with pytest.raises(TransferError, match="outputs cannot be written to data URLs"):
        transfers.stage_upload(tmp_path / "out", "data:text/plain,x", output_id="output-1")


def test_file_upload_is_invisible_until_committed(transfers: Transfers, allowed_dir: Path, tmp_path: Path) -> None:
    (tmp_path / "sealed").write_bytes(b"ciphertext")
    target = allowed_dir / "out.enc"
    pending = transfers.stage_upload(tmp_path / "sealed", target.as_uri(), output_id="output-1")
    assert not target.exists()
    pending.commit()
    assert target.read_bytes() == b"ciphertext"
    assert list(allowed_dir.iterdir()) == [target]
    pending.undo()
    assert not target.exists()


def test_an_aborted_file_upload_leaves_nothing(transfers: Transfers, allowed_dir: Path, tmp_path: Path) -> None:
    (tmp_path / "sealed").write_bytes(b"ciphertext")
    pending = transfers.stage_upload(tmp_path / "sealed", (allowed_dir / "out.enc").as_uri(), output_id="output-1")
    pending.abort()
    assert list(allowed_dir.iterdir()) == []


def test_file_upload_outside_allowed_directories_is_refused(transfers: Transfers, tmp_path: Path) -> None:
    (tmp_path / "sealed").write_bytes(b"ciphertext")
    with pytest.raises(TransferError, match="not under a directory"):
        transfers.stage_upload(tmp_path / "sealed", (tmp_path / "out.enc").as_uri(), output_id="output-1")


def test_oversized_output_is_refused(transfers: Transfers, allowed_dir: Path, tmp_path: Path) -> None:
    (tmp_path / "sealed").write_bytes(b"x" * 10_001)
    with pytest.raises(TransferError, match="over the 10000-byte limit for outputs"):
        transfers.stage_upload(tmp_path / "sealed", (allowed_dir / "out").as_uri(), output_id="output-1")


def test_http_put_and_its_failure(transfers: Transfers, file_server, tmp_path: Path) -> None:
    (tmp_path / "sealed").write_bytes(b"ciphertext")
    pending = transfers.stage_upload(tmp_path / "sealed", file_server.url("/out/result.enc"), output_id="output-1")
    assert "/out/result.enc" not in file_server.files
    pending.commit()
    assert file_server.files["/out/result.enc"] == b"ciphertext"
    pending.undo()
    assert "/out/result.enc" not in file_server.files

    file_server.behaviour.fail["/out/refused.enc"] = 403
    with pytest.raises(TransferError, match=r"PUT .*/out/refused.enc answered 403"):
        transfers.stage_upload(tmp_path / "sealed", file_server.url("/out/refused.enc"), output_id="output-1").commit()


def test_urls_in_messages_hide_secrets() -> None:
    assert describe_url("https://user:pw@h:8443/a.enc?sig=secret#f") == "https://h:8443/a.enc?…"
    assert describe_url("data:text/plain;base64,c2VjcmV0") == "data:text/plain;base64,…"
    assert TransferPolicy(allowed_dirs=(Path("."),)).allowed_dirs == (Path.cwd().resolve(),)
