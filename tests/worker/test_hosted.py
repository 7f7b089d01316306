"""Platform-hosted files (``teabox://``) as a worker reads and writes them."""

from __future__ import annotations

from pathlib import Path

import pytest
from support.worker import (
    LOCAL_SERVERS,
    LocalPlatform,
    MakeContext,
    concat_payload,
    encrypted_file,
    sha,
    spec,
    task_of,
)

from teabox.formats import CryptoInfo, decrypt
from teabox.platform.blobs import LocalBlobStore
from teabox.platform.staged import StagedInput, StagedOutput
from teabox.worker.fetch import TransferPolicy, Transfers
from teabox.worker.run_task import InputError, _stage_inputs, run_task
from teabox.worker.staging import TaskArea

# Both blob stores: the data directory's folder and an S3-API object store.
pytestmark = pytest.mark.parametrize("local", ["local", "s3"], indirect=True)


def _upload(local: LocalPlatform, path: Path) -> str:
    sha256, size = local.platform.storage.blobs.put(path)
    return local.call("upload_file", name=path.name, sha256=sha256, size=size)["url"]


def _transfers(local: LocalPlatform) -> Transfers:
    return Transfers(TransferPolicy(egress=LOCAL_SERVERS), hosted=local.platform.storage.hosted)


def test_hosted_input_and_output(make_context: MakeContext, local: LocalPlatform, tmp_path: Path) -> None:
    crypto, tag = encrypted_file(tmp_path / "bank_a.enc", b"a : 100")
    input_url = _upload(local, tmp_path / "bank_a.enc")
    output_url = local.call("reserve_file", name="sum.enc")["url"]
    out = CryptoInfo.random("teaclave-file-128")
    payload = concat_payload(["in"], ["out"])
    task = task_of(
        payload,
        [StagedInput("in", "input-1", input_url, crypto, tag)],
        [StagedOutput("out", "output-1", output_url, spec(out))],
    )

    outcome = run_task(task, make_context(_transfers(local), {sha(payload): payload})).outcome

    assert outcome.ok, outcome.reason
    with local.platform.storage.hosted.open_hosted(output_url) as published:
        (tmp_path / "sum.enc").write_bytes(published.read())
    decrypt(out, tmp_path / "sum.enc", tmp_path / "sum.txt", expected_cmac=outcome.tags["out"])
    assert (tmp_path / "sum.txt").read_bytes() == b"a : 100"


def test_an_input_in_the_local_blob_folder_is_decrypted_where_it_lies(local: LocalPlatform, tmp_path: Path) -> None:
    """No ciphertext copy in the staging area for a local blob (half the bytes written for a large input);
    an object-store blob is a stream, so it is downloaded first. Either way the payload gets the plaintext."""
    crypto, tag = encrypted_file(tmp_path / "bank_a.enc", b"a : 100")
    url = _upload(local, tmp_path / "bank_a.enc")
    task = task_of(b"", [StagedInput("in", "input-1", url, crypto, tag)])
    area = TaskArea(tmp_path / "area")

    staged = _stage_inputs(task, area, _transfers(local))

    assert staged.paths["in"].read_bytes() == b"a : 100"
    assert (area.root / "fetched").exists() == (not isinstance(local.platform.storage.blobs, LocalBlobStore))


def test_a_tampered_local_blob_is_refused_before_the_run(local: LocalPlatform, tmp_path: Path) -> None:
    """Read in place or downloaded, a blob whose bytes are not the registered file's never reaches a payload."""
    crypto, tag = encrypted_file(tmp_path / "bank_a.enc", b"a : 100")
    encrypted_file(tmp_path / "bank_a.enc", b"a : 999")  # the same name under another key: another file
    url = _upload(local, tmp_path / "bank_a.enc")
    task = task_of(b"", [StagedInput("in", "input-1", url, crypto, tag)])
    with pytest.raises(InputError, match="refused before the run: integrity check"):
        _stage_inputs(task, TaskArea(tmp_path / "area"), _transfers(local))


def test_a_byte_changed_in_a_local_blob_is_refused_before_the_run(local: LocalPlatform, tmp_path: Path) -> None:
    """A blob read where it lies is authenticated node by node: one byte changed in the middle is caught."""
    blobs = local.platform.storage.blobs
    if not isinstance(blobs, LocalBlobStore):
        pytest.skip("an object store's blobs are downloaded, and cannot be changed in place")
    crypto, tag = encrypted_file(tmp_path / "big.enc", bytes(range(256)) * 100)  # several data nodes
    url = _upload(local, tmp_path / "big.enc")
    stored = blobs.path(sha(tmp_path.joinpath("big.enc").read_bytes()))
    changed = bytearray(stored.read_bytes())
    changed[3 * 4096 + 100] ^= 1
    stored.write_bytes(bytes(changed))
    task = task_of(b"", [StagedInput("in", "input-1", url, crypto, tag)])
    with pytest.raises(InputError, match="refused before the run: integrity check 'data node tag'"):
        _stage_inputs(task, TaskArea(tmp_path / "area"), _transfers(local))


def test_a_hosted_output_is_not_linked_when_another_output_fails(
    make_context: MakeContext, local: LocalPlatform, tmp_path: Path, file_server
) -> None:
    file_server.behaviour.fail["/refused.enc"] = 500
    hosted_url = local.call("reserve_file", name="kept-back.enc")["url"]
    payload = concat_payload([], ["a", "b"])
    task = task_of(
        payload,
        [],
        [
            StagedOutput("a", "output-a", hosted_url, spec(CryptoInfo.random("aes-gcm-128"))),
            StagedOutput("b", "output-b", file_server.url("/refused.enc"), spec(CryptoInfo.random("aes-gcm-128"))),
        ],
    )
    outcome = run_task(task, make_context(_transfers(local), {sha(payload): payload})).outcome
    assert outcome.failure_kind == "output_error" and "output 'b'" in outcome.reason
    with pytest.raises(FileNotFoundError, match="has not been written yet"):
        local.platform.storage.hosted.open_hosted(hosted_url)


def test_a_user_uploaded_file_cannot_be_overwritten_by_a_task(
    make_context: MakeContext, local: LocalPlatform, tmp_path: Path
) -> None:
    (tmp_path / "mine.enc").write_bytes(b"the owner's bytes")
    uploaded_url = _upload(local, tmp_path / "mine.enc")
    payload = concat_payload([], ["a"])
    task = task_of(payload, [], [StagedOutput("a", "output-a", uploaded_url, spec(CryptoInfo.random("aes-gcm-128")))])
    outcome = run_task(task, make_context(_transfers(local), {sha(payload): payload})).outcome
    assert outcome.failure_kind == "output_error" and "uploaded by a user" in outcome.reason
    with local.platform.storage.hosted.open_hosted(uploaded_url) as kept:
        assert kept.read() == b"the owner's bytes"
