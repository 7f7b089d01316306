"""Outputs are published all together or not at all."""

from __future__ import annotations

from pathlib import Path

import pytest
from support.worker import spec

from teabox.formats import CryptoInfo, decrypt
from teabox.platform.staged import StagedOutput
from teabox.worker.fetch import Transfers
from teabox.worker.publish import PublishError, publish, seal_outputs
from teabox.worker.staging import WorkerStaging


def _outputs(urls: list[str], schema: str = "aes-gcm-128") -> list[StagedOutput]:
    return [StagedOutput(f"o{i}", f"output-{i}", url, spec(CryptoInfo.random(schema))) for i, url in enumerate(urls)]


@pytest.fixture
def staging(tmp_path: Path):
    staging = WorkerStaging(tmp_path / "data", "w")
    yield staging
    staging.close()


def _seal(staging: WorkerStaging, outputs: list[StagedOutput]):
    area_cm = staging.task_area("task-p", 1)
    area = area_cm.__enter__()
    for index, _ in enumerate(outputs):
        area.plain_output(index).write_bytes(f"plaintext {index}".encode())
    return area_cm, seal_outputs(outputs, area)


def test_sealed_outputs_decrypt_under_their_owners_keys(staging, allowed_dir: Path, tmp_path: Path) -> None:
    for schema in ("aes-gcm-128", "aes-gcm-256", "teaclave-file-128"):
        outputs = _outputs([(allowed_dir / f"{schema}.enc").as_uri()], schema)
        area_cm, sealed = _seal(staging, outputs)
        crypto = outputs[0].crypto
        out = tmp_path / "plain"
        decrypt(
            CryptoInfo(crypto.schema, crypto.key, crypto.iv),
            sealed[0].path,
            out,
            name=f"{schema}.enc",
            expected_cmac=sealed[0].tag,
        )
        assert out.read_bytes() == b"plaintext 0"
        area_cm.__exit__(None, None, None)


def test_all_outputs_are_published_together(staging, allowed_dir: Path, transfers: Transfers, file_server) -> None:
    outputs = _outputs([(allowed_dir / "a.enc").as_uri(), file_server.url("/b.enc"), (allowed_dir / "c.enc").as_uri()])
    area_cm, sealed = _seal(staging, outputs)
    publication = publish(sealed, transfers)
    assert (allowed_dir / "a.enc").read_bytes() == sealed[0].path.read_bytes()
    assert file_server.files["/b.enc"] == sealed[1].path.read_bytes()
    assert sorted(p.name for p in allowed_dir.iterdir()) == ["a.enc", "c.enc"]
    publication.withdraw()  # what the loop does when the platform refuses the outcome
    assert list(allowed_dir.iterdir()) == [] and "/b.enc" not in file_server.files
    area_cm.__exit__(None, None, None)


def test_one_failing_upload_publishes_none(staging, allowed_dir: Path, transfers: Transfers, file_server) -> None:
    file_server.behaviour.fail["/fails.enc"] = 503
    outputs = _outputs(
        [
            (allowed_dir / "a.enc").as_uri(),
            file_server.url("/b.enc"),
            file_server.url("/fails.enc"),
            (allowed_dir / "d.enc").as_uri(),
        ]
    )
    area_cm, sealed = _seal(staging, outputs)
    with pytest.raises(PublishError, match=r"output 'o2' could not be published: PUT .*/fails.enc answered 503"):
        publish(sealed, transfers)
    assert list(allowed_dir.iterdir()) == []
    assert "/b.enc" not in file_server.files
    assert ("DELETE", "/b.enc") in file_server.requests
    area_cm.__exit__(None, None, None)


def test_a_destination_refused_while_staging_publishes_none(
    staging, allowed_dir: Path, transfers: Transfers, file_server, tmp_path: Path
) -> None:
    outputs = _outputs([(allowed_dir / "a.enc").as_uri(), (tmp_path / "not-allowed.enc").as_uri()])
    area_cm, sealed = _seal(staging, outputs)
    with pytest.raises(PublishError, match=r"output 'o1'.*not under a directory"):
        publish(sealed, transfers)
    assert list(allowed_dir.iterdir()) == []
    area_cm.__exit__(None, None, None)
