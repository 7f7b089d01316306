"""A worker whose object store fails mid-task fails the task with the store's message, like a local I/O error."""

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

from teabox.formats import CryptoInfo
from teabox.platform.blob_location import BlobLocation
from teabox.platform.blobs_s3 import S3BlobStore
from teabox.platform.hosted import HostedFiles
from teabox.platform.staged import StagedInput, StagedOutput
from teabox.worker.fetch import TransferPolicy, Transfers
from teabox.worker.run_task import run_task

pytestmark = pytest.mark.parametrize("local", ["s3"], indirect=True)


def _refusing_store(local: LocalPlatform, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> HostedFiles:
    """The platform's hosted files, read and written through the same bucket with a wrong secret."""
    store = local.platform.storage.blobs
    assert isinstance(store, S3BlobStore)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "not-the-secret")
    url = f"s3://{store.bucket}/{store.prefix}"
    refusing = BlobLocation(url, store.client.meta.endpoint_url).open(tmp_path, store.disk)
    return HostedFiles(local.platform.storage.database, refusing)


@pytest.mark.parametrize("direction", ["input", "output"])
def test_a_store_failure_is_the_tasks_failure_naming_the_file(
    make_context: MakeContext, local: LocalPlatform, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, direction: str
) -> None:
    crypto, tag = encrypted_file(tmp_path / "in.enc", b"a : 100")
    sha256, size = local.platform.storage.blobs.put(tmp_path / "in.enc")
    input_url = local.call("upload_file", name="in.enc", sha256=sha256, size=size)["url"]
    output_url = local.call("reserve_file", name="out.enc")["url"]
    payload = concat_payload(["in"], ["out"])
    task = task_of(
        payload,
        [StagedInput("in", "input-1", input_url, crypto, tag)],
        [StagedOutput("out", "output-1", output_url, spec(CryptoInfo.random("aes-gcm-128")))],
    )
    hosted = _refusing_store(local, tmp_path, monkeypatch)
    if direction == "output":  # the input is read through the working store, the output written through the other
        hosted.open_hosted = local.platform.storage.hosted.open_hosted  # type: ignore[method-assign]
    transfers = Transfers(TransferPolicy(egress=LOCAL_SERVERS), hosted=hosted)

    outcome = run_task(task, make_context(transfers, {sha(payload): payload})).outcome

    assert outcome.failure_kind == f"{direction}_error", outcome.reason
    assert f"{direction} '{'in' if direction == 'input' else 'out'}'" in outcome.reason
    assert f"the blob store s3://{local.platform.storage.blobs.bucket}/" in outcome.reason  # type: ignore[attr-defined]
    with pytest.raises(FileNotFoundError, match="has not been written yet"):
        local.platform.storage.hosted.open_hosted(output_url)
