"""Server-side request forgery, through the real service: a data owner tries to make a worker read
from or write to the operator's internal network, in every spelling, and through redirects and
slow servers."""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from support.egress import copy_function, failure_of, run_alone, write_function
from support.http_server import Behaviour, Recorder, recording_server
from support.platform_api import login

from teabox.client import BadRequest, Client, CryptoInfo, decrypt_file, encrypt_file
from teabox.formats.bound_names import bound_name
from teabox.testing.local_server import LocalServer

ZERO_KEY = bytes(16)
CMAC = bytes(16)


@pytest.fixture
def internal() -> Iterator[Recorder]:
    """The operator's internal service: it holds a secret and accepts PUTs."""
    with recording_server(behaviour=Behaviour(files={"/secret": b"the operator's secret"})) as server:
        yield server


def _spellings(port: int) -> list[str]:
    return [
        f"http://127.0.0.1:{port}/secret",
        f"http://localhost:{port}/secret",
        f"http://LOCALHOST.:{port}/secret",
        f"http://2130706433:{port}/secret",
        f"http://0x7f000001:{port}/secret",
        f"http://0x7f.1:{port}/secret",
        f"http://017700000001:{port}/secret",
        f"http://127.1:{port}/secret",
        f"http://[::1]:{port}/secret",
        f"http://[::ffff:127.0.0.1]:{port}/secret",
        f"http://[::ffff:7f00:1]:{port}/secret",
        f"http://0.0.0.0:{port}/secret",
        "http://169.254.169.254/latest/meta-data/iam/security-credentials/role",
        "http://[fd00:ec2::254]/latest/meta-data/",
        "http://10.0.0.1/admin",
        "http://192.168.1.1/admin",
        "http://100.64.0.1/admin",
        "http://[fe80::1]/admin",
        "https://[fc00::1]/admin",
    ]


def _refused(call: Callable[[], object]) -> BadRequest:
    with pytest.raises(BadRequest) as refused:
        call()
    assert refused.value.status == 400
    assert refused.value.code in ("url_not_allowed", "invalid_url"), refused.value
    assert refused.value.message.startswith("url: "), "the refusal names the field"
    return refused.value


def test_internal_addresses_are_refused_at_registration_in_every_spelling(
    make_user: Callable[..., Client], internal: Recorder
) -> None:
    owner = make_user("ssrf", "DataOwner", "net")
    own_input = owner.register_input_file("https://files.example.com/a.enc", "teaclave-file-128", ZERO_KEY, b"", CMAC)
    own_output = owner.register_output_file("https://files.example.com/b.enc", "teaclave-file-128", ZERO_KEY, b"")
    for url in _spellings(internal.port):
        _refused(lambda url=url: owner.register_input_file(url, "teaclave-file-128", ZERO_KEY, b"", CMAC))
        _refused(lambda url=url: owner.register_output_file(url, "teaclave-file-128", ZERO_KEY, b""))
        _refused(lambda url=url: owner.update_input_file(own_input, url))
        _refused(lambda url=url: owner.update_output_file(own_output, url))
    assert "loopback" in _refused(lambda: owner.update_input_file(own_input, internal.url("/secret"))).message
    assert internal.requests == [], "the internal service was reached"


@pytest.mark.parametrize(
    ("url", "says"),
    [
        ("http://[::1/secret.enc", "malformed"),
        ("http://[fe80::1%25eth0]/a.enc", "zone identifiers"),
        ("http://[1:2:3:4:5:6:7:8:9]/a.enc", "malformed"),
        ("http://files.example.com:99999/a.enc", "not a port"),
        ("http://files.example.com:0/a.enc", "not a port"),
        ("http://files.example.com:-1/a.enc", "not a port"),
        ("http://files.example.com/a.enc\r\nX-Injected: yes", "control character"),
        ("http://files.example.com/a\n.enc", "control character"),
        ("http://files.exa mple.com/a.enc", "space character"),
        ("teabox://[files/abc/a.enc", "malformed"),
        ("https://files.example.com/", "must end in a file name"),
    ],
)
def test_malformed_urls_are_a_400_naming_the_field(make_user: Callable[..., Client], url: str, says: str) -> None:
    owner = make_user("badurl", "DataOwner", "net")
    assert says in _refused(lambda: owner.register_input_file(url, "teaclave-file-128", ZERO_KEY, b"", CMAC)).message
    _refused(lambda: owner.register_output_file(url, "teaclave-file-128", ZERO_KEY, b""))


def _loopback_alias() -> tuple[str, str] | None:
    """A host name other than localhost that this machine resolves to a loopback address
    (its own name, or an /etc/hosts alias), with that address."""
    names = {socket.gethostname()}
    try:
        with open("/etc/hosts") as hosts:
            for line in hosts:
                names.update(line.partition("#")[0].split()[1:])
    except OSError:
        pass
    for name in sorted(names):
        if name.lower() == "localhost" or name.lower().endswith(".localhost") or not name.isascii():
            continue
        try:
            infos = socket.getaddrinfo(name, 80, type=socket.SOCK_STREAM)
        except (socket.gaierror, UnicodeError):
            continue
        addresses = {str(info[4][0]) for info in infos}
        if len(addresses) == 1 and ipaddress.ip_address(next(iter(addresses))).is_loopback:
            return name, addresses.pop()
    return None


def test_a_host_name_that_resolves_to_loopback_is_refused_by_the_worker(
    make_user: Callable[..., Client], tmp_path: Path
) -> None:
    alias = _loopback_alias()
    if alias is None:
        pytest.skip("no host name other than localhost resolves to a loopback address on this machine")
    name, address = alias
    vendor = make_user("vendor", "FunctionOwner")
    owner = make_user("rebind", "DataOwner", "net")
    (tmp_path / "in.txt").write_bytes(b"owner data")
    encrypted = encrypt_file(tmp_path / "in.txt", tmp_path / "in.enc")
    with recording_server(address, Behaviour(files={"/in.enc": encrypted.path.read_bytes()})) as inner:
        # The name is not an address, so registration cannot refuse it; the worker must.
        c = encrypted.crypto
        input_id = owner.register_input_file(inner.url("/in.enc", host=name), c.schema, c.key, c.iv, encrypted.cmac)
        out = CryptoInfo.random("teaclave-file-128")
        output_id = owner.register_output_file(inner.url("/out.enc", host=name), out.schema, out.key, out.iv)

        failed = failure_of(lambda: run_alone(owner, copy_function(vendor), {"in": input_id}, {"out": output_id}))
        assert failed.kind == "input_error"
        assert f"GET http://{name}:{inner.port}/in.enc refused by the egress policy (loopback)" in failed.reason

        put_id = owner.register_output_file(inner.url("/put.enc", host=name), out.schema, out.key, out.iv)
        failed = failure_of(lambda: run_alone(owner, write_function(vendor), {}, {"out": put_id}))
        assert failed.kind == "output_error"
        assert "refused by the egress policy (loopback)" in failed.reason
        assert inner.requests == [], "the internal service was reached"


@pytest.fixture
def allowed_files() -> Iterator[Recorder]:
    """A file server on loopback that the operator allows (and only it, by port)."""
    with recording_server() as server:
        yield server


@pytest.fixture
def allowing_server(
    start_platform_server: Callable[..., LocalServer], allowed_files: Recorder
) -> Iterator[tuple[LocalServer, Client]]:
    server = start_platform_server(
        workers=1, extra_args=("--allow-url", f"127.0.0.1:{allowed_files.port}", "--transfer-deadline", "2")
    )
    with login(server, server.admin_id, server.admin_password) as admin:
        yield server, admin


def test_allow_url_opens_one_server_and_nothing_else(
    allowing_server: tuple[LocalServer, Client],
    make_user: Callable[..., Client],
    allowed_files: Recorder,
    internal: Recorder,
    tmp_path: Path,
) -> None:
    server, admin = allowing_server
    vendor = make_user("vendor", "FunctionOwner", server=server, admin=admin)
    owner = make_user("owner", "DataOwner", "net", server=server, admin=admin)
    copy = copy_function(vendor)
    (tmp_path / "in.txt").write_bytes(b"what the owner shares")
    encrypted = encrypt_file(tmp_path / "in.txt", tmp_path / "in.enc")
    c = encrypted.crypto

    def register_input(path: str) -> str:
        return owner.register_input_file(allowed_files.url(path), c.schema, c.key, c.iv, encrypted.cmac)

    def register_output(path: str, crypto: CryptoInfo) -> str:
        return owner.register_output_file(allowed_files.url(path), crypto.schema, crypto.key, crypto.iv)

    # The allowed server works both ways.
    allowed_files.behaviour.files["/in.enc"] = encrypted.path.read_bytes()
    out = CryptoInfo.random("teaclave-file-128")
    run_alone(owner, copy, {"in": register_input("/in.enc")}, {"out": register_output("/out.enc", out)})
    (tmp_path / "out.enc").write_bytes(allowed_files.behaviour.files["/out.enc"])
    decrypt_file(tmp_path / "out.enc", tmp_path / "out.txt", crypto=out, name=bound_name(allowed_files.url("/out.enc")))
    assert (tmp_path / "out.txt").read_bytes() == b"what the owner shares"

    # Another port on the same address is still refused.
    _refused(lambda: owner.register_input_file(internal.url("/secret"), c.schema, c.key, c.iv, encrypted.cmac))

    # A redirect from the allowed server to the internal one is not followed.
    allowed_files.behaviour.redirects["/moved.enc"] = internal.url("/secret")
    failed = failure_of(
        lambda: run_alone(owner, copy, {"in": register_input("/moved.enc")}, {"out": register_output("/o2.enc", out)})
    )
    assert failed.kind == "input_error" and "answered 302" in failed.reason
    assert "redirects are not followed" in failed.reason

    # An input dripped one byte at a time is cut off at the operator's deadline (2 s here).
    allowed_files.behaviour.files["/drip.enc"] = encrypted.path.read_bytes()
    allowed_files.behaviour.drip.add("/drip.enc")
    failed = failure_of(
        lambda: run_alone(owner, copy, {"in": register_input("/drip.enc")}, {"out": register_output("/o3.enc", out)})
    )
    assert failed.kind == "input_error" and "did not finish within its 2-second deadline" in failed.reason
    assert internal.requests == [], "the internal service was reached"
