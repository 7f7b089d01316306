"""One staged task through the whole pipeline: fetch, verify, decrypt, run, seal, publish."""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

import pytest
from support.teaclave_fixtures import FIXTURES, MISSING
from support.worker import LOCAL_SERVERS, MakeContext, concat_payload, encrypted_file, endless_payload, sha, task_of

from teabox.formats import CryptoInfo, decrypt
from teabox.platform.staged import CryptoSpec, StagedInput, StagedOutput
from teabox.worker.fetch import TransferPolicy, Transfers
from teabox.worker.run_task import run_task


def _output_spec(schema: str = "aes-gcm-128") -> CryptoSpec:
    info = CryptoInfo.random(schema)
    return CryptoSpec(info.schema, info.key, info.iv)


def _read_back(path: Path, crypto: CryptoSpec, tag: bytes, tmp_path: Path) -> bytes:
    out = tmp_path / "read-back"
    decrypt(CryptoInfo(crypto.schema, crypto.key, crypto.iv), path, out, name=path.name, expected_cmac=tag)
    return out.read_bytes()


def _files_under(root: Path) -> list[Path]:
    return [Path(d) / f for d, _, files in os.walk(root) for f in files]


def test_inputs_from_file_and_http_outputs_to_file_and_http(
    make_context: MakeContext, tmp_path: Path, allowed_dir: Path, transfers: Transfers, file_server
) -> None:
    crypto_a, tag_a = encrypted_file(allowed_dir / "a.enc", b"first half, ")
    remote = tmp_path / "b.enc"
    crypto_b, tag_b = encrypted_file(remote, b"second half", schema="aes-gcm-256")
    file_server.files["/in/b.enc"] = remote.read_bytes()
    out_file, out_http = _output_spec("aes-gcm-128"), _output_spec("teaclave-file-128")
    payload = concat_payload(["a", "b"], ["x", "y"])
    task = task_of(
        payload,
        [
            StagedInput("a", "input-a", (allowed_dir / "a.enc").as_uri(), crypto_a, tag_a),
            StagedInput("b", "input-b", file_server.url("/in/b.enc"), crypto_b, tag_b),
        ],
        [
            StagedOutput("x", "output-x", (allowed_dir / "x.enc").as_uri(), out_file),
            StagedOutput("y", "output-y", file_server.url("/out/y.enc"), out_http),
        ],
    )
    context = make_context(transfers, {sha(payload): payload})

    outcome = run_task(task, context).outcome

    assert outcome.ok, outcome.reason
    assert outcome.return_value == str(2 * len(b"first half, second half"))
    assert set(outcome.tags) == {"x", "y"}
    assert _read_back(allowed_dir / "x.enc", out_file, outcome.tags["x"], tmp_path) == b"first half, second half"
    (tmp_path / "y.enc").write_bytes(file_server.files["/out/y.enc"])
    assert _read_back(tmp_path / "y.enc", out_http, outcome.tags["y"], tmp_path) == b"first half, second half"
    assert outcome.metrics["files"]["a"]["read"] == 24 and outcome.metrics["files"]["x"]["written"] == 23
    assert {"stage_inputs", "run", "seal_outputs", "publish_outputs"} <= set(outcome.metrics["stages"])
    # The staging area is gone, and no plaintext is left anywhere under the data dir.
    assert _files_under(tmp_path / "data" / "staging" / "test-worker") == []
    for path in _files_under(tmp_path / "data"):
        assert b"first half" not in path.read_bytes()


def test_a_teaclave_fixture_runs_unchanged(make_context: MakeContext, tmp_path: Path, file_server) -> None:
    if not FIXTURES.is_dir():
        pytest.skip(MISSING)
    folder = (FIXTURES / "wamr_rust_psi").resolve()
    transfers = Transfers(TransferPolicy(allowed_dirs=(folder,), egress=LOCAL_SERVERS))
    crypto = CryptoSpec("teaclave-file-128", bytes(16), b"")
    payload = concat_payload(["psi"], ["copy"])
    out = _output_spec("teaclave-file-128")
    task = task_of(
        payload,
        [
            StagedInput(
                "psi",
                "input-psi",
                (folder / "psi0.txt.enc").as_uri(),
                crypto,
                bytes.fromhex("fd9b319ae0fc595a98ee4135667ac0ac"),
            )
        ],
        [StagedOutput("copy", "output-copy", file_server.url("/psi-copy.enc"), out)],
    )
    outcome = run_task(task, make_context(transfers, {sha(payload): payload})).outcome
    assert outcome.ok, outcome.reason
    (tmp_path / "psi-copy.enc").write_bytes(file_server.files["/psi-copy.enc"])
    copied = _read_back(tmp_path / "psi-copy.enc", out, outcome.tags["copy"], tmp_path)
    assert copied == (folder / "psi0.txt").read_bytes()


def test_a_tampered_input_fails_before_the_payload_runs(
    make_context: MakeContext, tmp_path: Path, allowed_dir: Path, transfers: Transfers, file_server
) -> None:
    crypto, tag = encrypted_file(allowed_dir / "a.enc", b"do not trust me")
    tampered = bytearray((allowed_dir / "a.enc").read_bytes())
    tampered[200] ^= 0x01
    (allowed_dir / "a.enc").write_bytes(bytes(tampered))
    crypto_b, tag_b = encrypted_file(tmp_path / "b.enc", b"fine")
    file_server.files["/b.enc"] = (tmp_path / "b.enc").read_bytes()
    payload = concat_payload(["a", "b"], ["x"])
    task = task_of(
        payload,
        [
            StagedInput("a", "input-a", (allowed_dir / "a.enc").as_uri(), crypto, tag),
            StagedInput("b", "input-b", file_server.url("/b.enc"), crypto_b, tag_b),
        ],
        [StagedOutput("x", "output-x", (allowed_dir / "x.enc").as_uri(), _output_spec())],
    )
    context = make_context(transfers, {sha(payload): payload})

    outcome = run_task(task, context).outcome

    assert outcome.failure_kind == "input_error"
    assert "input 'a' (file input-a) was refused before the run: integrity check" in outcome.reason, outcome.reason
    assert context.executor.runs == 0  # the payload never started
    assert file_server.requests == []  # and the next input was not even fetched
    assert not (allowed_dir / "x.enc").exists()
    assert _files_under(tmp_path / "data" / "staging" / "test-worker") == []


def test_an_intact_file_under_a_different_registered_cmac_is_refused(
    make_context: MakeContext, tmp_path: Path, allowed_dir: Path, transfers: Transfers
) -> None:
    crypto, _ = encrypted_file(allowed_dir / "a.enc", b"genuine")
    _, other_tag = encrypted_file(allowed_dir / "other.enc", b"genuine")
    payload = concat_payload(["a"], [])
    task = task_of(payload, [StagedInput("a", "input-a", (allowed_dir / "a.enc").as_uri(), crypto, other_tag)])
    context = make_context(transfers, {sha(payload): payload})
    outcome = run_task(task, context).outcome
    assert outcome.failure_kind == "input_error" and "input 'a'" in outcome.reason
    assert context.executor.runs == 0


def test_a_download_failure_is_an_input_error(
    make_context: MakeContext, tmp_path: Path, transfers: Transfers, file_server
) -> None:
    payload = concat_payload(["a"], [])
    crypto = _output_spec()
    task = task_of(payload, [StagedInput("a", "input-a", file_server.url("/gone.enc"), crypto, bytes(16))])
    context = make_context(transfers, {sha(payload): payload})
    outcome = run_task(task, context).outcome
    assert outcome.failure_kind == "input_error"
    assert "input 'a' (file input-a) could not be downloaded" in outcome.reason and "404" in outcome.reason
    assert context.executor.runs == 0


def test_a_raw_input_is_used_as_is(
    make_context: MakeContext, tmp_path: Path, allowed_dir: Path, transfers: Transfers
) -> None:
    payload = concat_payload(["a"], ["x"])
    out = _output_spec()
    task = task_of(
        payload,
        [StagedInput("a", "input-a", "data:text/plain,4211037", CryptoSpec("raw", b"", b""), None)],
        [StagedOutput("x", "output-x", (allowed_dir / "x.enc").as_uri(), out)],
    )
    outcome = run_task(task, make_context(transfers, {sha(payload): payload})).outcome
    assert outcome.ok and outcome.return_value == "7"
    assert _read_back(allowed_dir / "x.enc", out, outcome.tags["x"], tmp_path) == b"4211037"


def test_a_missing_output_fails_naming_it_and_publishes_nothing(
    make_context: MakeContext, tmp_path: Path, allowed_dir: Path, transfers: Transfers
) -> None:
    payload = concat_payload([], ["x"])  # never creates "forgotten"
    task = task_of(
        payload,
        [],
        [
            StagedOutput("x", "output-x", (allowed_dir / "x.enc").as_uri(), _output_spec()),
            StagedOutput("forgotten", "output-f", (allowed_dir / "f.enc").as_uri(), _output_spec()),
        ],
    )
    outcome = run_task(task, make_context(transfers, {sha(payload): payload})).outcome
    assert outcome.failure_kind == "missing_output" and "forgotten" in outcome.reason
    assert list(allowed_dir.iterdir()) == []


def test_an_upload_failure_is_an_output_error_and_publishes_nothing(
    make_context: MakeContext, tmp_path: Path, allowed_dir: Path, transfers: Transfers, file_server
) -> None:
    file_server.behaviour.fail["/out/refused.enc"] = 500
    payload = concat_payload(["a"], ["x", "y", "z"])
    task = task_of(
        payload,
        [StagedInput("a", "input-a", "data:text/plain,hello", CryptoSpec("raw", b"", b""), None)],
        [
            StagedOutput("x", "output-x", (allowed_dir / "x.enc").as_uri(), _output_spec()),
            StagedOutput("y", "output-y", file_server.url("/out/y.enc"), _output_spec()),
            StagedOutput("z", "output-z", file_server.url("/out/refused.enc"), _output_spec()),
        ],
    )
    outcome = run_task(task, make_context(transfers, {sha(payload): payload})).outcome
    assert outcome.failure_kind == "output_error"
    assert "output 'z'" in outcome.reason and "500" in outcome.reason
    assert outcome.tags == {}
    assert list(allowed_dir.iterdir()) == []  # the staged local output was dropped
    assert "/out/y.enc" not in file_server.files  # the PUT already made was withdrawn


def test_an_endless_payload_times_out(make_context: MakeContext, tmp_path: Path, transfers: Transfers) -> None:
    payload = endless_payload()
    outcome = run_task(task_of(payload, timeout=0.3), make_context(transfers, {sha(payload): payload})).outcome
    assert outcome.failure_kind == "timeout" and outcome.return_value is None
    assert outcome.metrics["wall_time"] >= 0.3


def test_an_unknown_payload_is_a_host_error(make_context: MakeContext, tmp_path: Path, transfers: Transfers) -> None:
    payload = concat_payload([], [])
    outcome = run_task(task_of(payload), make_context(transfers, {})).outcome
    assert outcome.failure_kind == "host_error" and sha(payload) in outcome.reason


def test_arguments_the_payload_cannot_receive_fail_the_task_with_a_reason(
    make_context: MakeContext, tmp_path: Path, transfers: Transfers
) -> None:
    payload = concat_payload([], [])
    task = dataclasses.replace(task_of(payload), arguments={"key": "a\x00b"})
    outcome = run_task(task, make_context(transfers, {sha(payload): payload})).outcome
    assert outcome.failure_kind == "host_error" and "NUL" in outcome.reason
