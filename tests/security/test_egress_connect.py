"""The worker's transfers against hostile servers and hostile DNS: the address checked is the
address connected to, and a slow server cannot hold a worker."""

from __future__ import annotations

import datetime
import socket
import ssl
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from support.http_server import Behaviour, Recorder, recording_server

from teabox.platform.egress import EgressPolicy
from teabox.worker.fetch import TransferError, TransferPolicy, Transfers
from teabox.worker.pacing import Pace

LOOPBACK = EgressPolicy.from_texts(["127.0.0.1"])


@pytest.fixture
def servers() -> Iterator[ExitStack]:
    with ExitStack() as stack:
        yield stack


def _serve(servers: ExitStack, host: str = "127.0.0.1", port: int = 0, **behaviour: Any) -> Recorder:
    return servers.enter_context(recording_server(host, Behaviour(**behaviour), port=port))


def _resolve_as(monkeypatch: pytest.MonkeyPatch, name: str, answers: list[str]) -> list[str]:
    """Make ``name`` resolve to ``answers[0]`` on the first lookup, ``answers[1]`` on the second, ...;
    returns the list of lookups made (other names resolve as before)."""
    real_getaddrinfo = socket.getaddrinfo
    lookups: list[str] = []

    def resolver(host: Any, port: Any, *args: Any, **kwargs: Any) -> Any:
        if host != name:
            return real_getaddrinfo(host, port, *args, **kwargs)
        address = answers[min(len(lookups), len(answers) - 1)]
        lookups.append(address)
        return [(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP, "", (address, port))]

    monkeypatch.setattr(socket, "getaddrinfo", resolver)
    return lookups


def test_dns_cannot_answer_one_address_for_the_check_and_another_for_the_connection(
    servers: ExitStack, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The operator allows 127.0.0.2 (a file server); 127.0.0.1 is an internal service on the same port.
    allowed = _serve(servers, "127.0.0.2", files={"/data.enc": b"public data"})
    try:
        internal = _serve(servers, "127.0.0.1", allowed.port, files={"/data.enc": b"internal secret"})
    except OSError:
        pytest.skip("cannot bind 127.0.0.1 and 127.0.0.2 to one port here")
    # A rebinding DNS server: the allowed address first, the internal one on every later lookup.
    lookups = _resolve_as(monkeypatch, "rebind.test", ["127.0.0.2", "127.0.0.1"])
    transfers = Transfers(TransferPolicy(egress=EgressPolicy.from_texts(["127.0.0.2"])))
    url = f"http://rebind.test:{allowed.port}/data.enc"
    try:
        assert transfers.download(url, tmp_path / "got") == len(b"public data")
        assert (tmp_path / "got").read_bytes() == b"public data"
        assert lookups == ["127.0.0.2"], "the name was resolved again after it was checked"
        transfers.close()  # a new connection resolves again, and the new answer is checked again
        with pytest.raises(TransferError, match=r"resolves to 127\.0\.0\.1, in the refused range 'loopback'"):
            transfers.download(url, tmp_path / "again")
    finally:
        transfers.close()
    assert allowed.requests == [("GET", "/data.enc")]
    assert allowed.behaviour.hosts == [f"rebind.test:{allowed.port}"], "the request lost its host name"
    assert internal.requests == [], "the internal service was reached"


def _certificate_for(name: str, folder: Path) -> tuple[Path, Path]:
    """A self-signed certificate for ``name`` and its key, as PEM files."""
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(name)]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = folder / "cert.pem", folder / "key.pem"
    cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return cert_path, key_path


def test_https_to_a_vetted_address_still_verifies_the_certificate_against_the_name(
    servers: ExitStack, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cert, key = _certificate_for("files.test", tmp_path)
    tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    tls.load_cert_chain(cert, key)
    server = servers.enter_context(recording_server(behaviour=Behaviour(files={"/a.enc": b"over tls"}), tls=tls))
    _resolve_as(monkeypatch, "files.test", ["127.0.0.1"])
    _resolve_as(monkeypatch, "other.test", ["127.0.0.1"])
    monkeypatch.setenv("SSL_CERT_FILE", str(cert))  # trust the test certificate, as an operator would a private CA
    transfers = Transfers(TransferPolicy(egress=LOOPBACK))
    try:
        assert transfers.download(f"https://files.test:{server.port}/a.enc", tmp_path / "got") == len(b"over tls")
        # The same server and address under another name: the certificate does not match that name.
        with pytest.raises(
            TransferError,
            match=r"CERTIFICATE_VERIFY_FAILED.*Hostname mismatch|certificate is not valid for .other.test.",
        ):
            transfers.download(f"https://other.test:{server.port}/a.enc", tmp_path / "other")
    finally:
        transfers.close()


def test_proxy_settings_from_the_environment_are_not_used(
    servers: ExitStack, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = _serve(servers, files={"/a.enc": b"direct"})
    proxy = _serve(servers)
    for variable in ("HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy"):
        monkeypatch.setenv(variable, proxy.url(""))
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    transfers = Transfers(TransferPolicy(egress=LOOPBACK))
    try:
        assert transfers.download(target.url("/a.enc"), tmp_path / "got") == len(b"direct")
    finally:
        transfers.close()
    assert proxy.requests == [] and target.requests == [("GET", "/a.enc")]


def test_a_name_that_resolves_to_an_internal_address_is_refused_at_connect_time(
    servers: ExitStack, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    internal = _serve(servers, files={"/secret.enc": b"internal secret"})
    _resolve_as(monkeypatch, "files.example.com", ["127.0.0.1"])
    transfers = Transfers(TransferPolicy())
    url = internal.url("/secret.enc", host="files.example.com")
    (tmp_path / "out").write_bytes(b"chosen body")
    try:
        with pytest.raises(TransferError, match=r"GET .* refused by the egress policy \(loopback\)") as refused:
            transfers.download(url, tmp_path / "got")
        with pytest.raises(TransferError, match=r"PUT .* refused by the egress policy \(loopback\)"):
            transfers.stage_upload(tmp_path / "out", url, output_id="output-1").commit()
    finally:
        transfers.close()
    assert "files.example.com resolves to 127.0.0.1" in str(refused.value)
    assert internal.requests == []


def _paced_download(recorder: Recorder, path: str, pace: Pace, tmp_path: Path) -> None:
    transfers = Transfers(TransferPolicy(timeout_seconds=30.0, egress=LOOPBACK, pace=pace))
    try:
        transfers.download(recorder.url(path), tmp_path / "got")
    finally:
        transfers.close()


def test_a_server_dripping_bytes_is_cut_off_at_the_total_deadline(servers: ExitStack, tmp_path: Path) -> None:
    drip = _serve(servers, files={"/drip.enc": b"x" * 10_000}, drip={"/drip.enc"})
    with pytest.raises(TransferError, match=r"GET .*/drip.enc did not finish within its 1-second deadline"):
        _paced_download(drip, "/drip.enc", Pace(deadline_seconds=1.0, min_bytes_per_second=0), tmp_path)


def test_a_server_slower_than_the_minimum_rate_is_cut_off(servers: ExitStack, tmp_path: Path) -> None:
    drip = _serve(servers, files={"/drip.enc": b"x" * 10_000}, drip={"/drip.enc"})
    pace = Pace(deadline_seconds=600.0, min_bytes_per_second=1000, grace_seconds=0.5)
    with pytest.raises(TransferError, match=r"GET .*/drip.enc was slower than the minimum of 1000 bytes per second"):
        _paced_download(drip, "/drip.enc", pace, tmp_path)


def test_a_server_that_stops_sending_is_cut_off_by_the_minimum_rate(servers: ExitStack, tmp_path: Path) -> None:
    # Headers promise 10 000 bytes, one arrives, then nothing: no read returns, so only the clock can
    # end the wait before the 30-second per-read timeout.
    silent = _serve(servers, files={"/silent.enc": b"x" * 10_000}, drip={"/silent.enc"}, drip_seconds=3600.0)
    pace = Pace(deadline_seconds=600.0, min_bytes_per_second=1000, grace_seconds=0.5)
    with pytest.raises(TransferError, match=r"slower than the minimum") as refused:
        _paced_download(silent, "/silent.enc", pace, tmp_path)
    assert "timed out" not in str(refused.value)


def test_a_slow_upload_is_cut_off_too(servers: ExitStack, tmp_path: Path) -> None:
    # The server never reads the body: the worker's writes block once the socket buffers fill.
    sink = _serve(servers, stall={"/stuck.enc"})
    policy = TransferPolicy(
        timeout_seconds=30.0,
        egress=LOOPBACK,
        max_output_bytes=64 * 1024 * 1024,
        pace=Pace(deadline_seconds=1.0, min_bytes_per_second=0),
    )
    (tmp_path / "big").write_bytes(b"x" * (32 * 1024 * 1024))
    transfers = Transfers(policy)
    try:
        with pytest.raises(TransferError, match=r"PUT .*/stuck.enc did not finish within its 1-second deadline"):
            transfers.stage_upload(tmp_path / "big", sink.url("/stuck.enc"), output_id="output-1").commit()
    finally:
        transfers.close()
