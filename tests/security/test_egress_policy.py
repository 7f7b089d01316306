"""The egress policy on its own: which URLs and addresses it refuses, and what an allow rule opens."""

from __future__ import annotations

import ipaddress
from pathlib import Path

import pytest
from click.testing import CliRunner

from teabox.cli.serve import serve_command
from teabox.cli.worker import worker_command
from teabox.platform.egress import EgressPolicy, MalformedUrl, UrlRefused, classify, parse_allow_rule

DEFAULT = EgressPolicy()


@pytest.mark.parametrize(
    ("address", "rule"),
    [
        ("127.0.0.1", "loopback"),
        ("127.255.0.9", "loopback"),
        ("::1", "loopback"),
        ("0.0.0.0", "unspecified"),
        ("::", "unspecified"),
        ("10.1.2.3", "private"),
        ("172.16.0.1", "private"),
        ("192.168.1.1", "private"),
        ("fd12::1", "private"),
        ("100.64.0.1", "shared (carrier-grade NAT)"),
        ("169.254.169.254", "cloud metadata"),
        ("fd00:ec2::254", "cloud metadata"),
        ("100.100.100.200", "cloud metadata"),
        ("169.254.1.1", "link-local"),
        ("fe80::1", "link-local"),
        ("224.0.0.1", "multicast"),
        ("ff02::1", "multicast"),
        ("255.255.255.255", "reserved"),
        ("::ffff:127.0.0.1", "IPv4-mapped IPv6"),
        ("::ffff:8.8.8.8", "IPv4-mapped IPv6"),
        ("::127.0.0.1", "IPv4-compatible IPv6"),
        ("64:ff9b::7f00:1", "IPv4-embedding IPv6 (NAT64, 6to4, Teredo)"),
        ("2002:7f00:1::", "IPv4-embedding IPv6 (NAT64, 6to4, Teredo)"),
        ("192.0.2.1", "special-purpose (not globally routable)"),
        ("198.18.0.1", "special-purpose (not globally routable)"),
    ],
)
def test_addresses_that_are_not_globally_routable_are_refused_by_name(address: str, rule: str) -> None:
    assert classify(ipaddress.ip_address(address)) == rule


@pytest.mark.parametrize("address", ["8.8.8.8", "1.1.1.1", "2606:4700:4700::1111"])
def test_globally_routable_addresses_are_allowed(address: str) -> None:
    assert classify(ipaddress.ip_address(address)) is None


@pytest.mark.parametrize(
    ("url", "rule"),
    [
        ("http://127.0.0.1:8080/secret", "loopback"),
        ("http://localhost/secret", "loopback"),
        ("http://LocalHost./secret", "loopback"),
        ("http://admin.localhost/secret", "loopback"),
        ("http://[::1]/secret", "loopback"),
        ("http://[::ffff:127.0.0.1]/secret", "IPv4-mapped IPv6"),
        ("http://[::ffff:7f00:1]/secret", "IPv4-mapped IPv6"),
        ("http://169.254.169.254/latest/meta-data/iam", "cloud metadata"),
        ("http://127.0.0.1./secret", "loopback"),
    ],
)
def test_literal_internal_hosts_are_refused(url: str, rule: str) -> None:
    with pytest.raises(UrlRefused) as refused:
        DEFAULT.check_url(url)
    assert refused.value.rule == rule and not isinstance(refused.value, MalformedUrl)


@pytest.mark.parametrize(
    "host", ["2130706433", "0x7f000001", "0x7f.1", "017700000001", "0177.0.0.1", "127.1", "127.000.000.001"]
)
def test_decimal_octal_hex_and_short_ipv4_spellings_are_refused(host: str) -> None:
    with pytest.raises(MalformedUrl, match="in a decimal, octal, hexadecimal or shortened spelling"):
        DEFAULT.check_url(f"http://{host}/secret")


@pytest.mark.parametrize(
    ("url", "rule"),
    [
        ("http://[::1/x", "malformed IPv6"),
        ("http://[not-an-address]/x", "malformed IPv6"),
        ("http://[::1]junk/x", "malformed IPv6"),
        ("http://[fe80::1%25eth0]/x", "IPv6 zone identifier"),
        ("http://h.example:99999/x", "invalid port"),
        ("http://h.example:0/x", "invalid port"),
        ("http://h.example:8o/x", "invalid port"),
        ("http://h.example/a\r\nX-Injected: 1", "forbidden character"),
        ("http://h.example/a\x00b", "forbidden character"),
        ("http://h.example\\@127.0.0.1/x", "forbidden character"),
        ("http://exa_mple!.com/x", "invalid host"),
        ("http://bücher.example/x", "invalid host"),
        ("http:///x", "missing host"),
        ("gopher://h.example/x", "scheme"),
    ],
)
def test_malformed_urls_are_refused_naming_the_rule(url: str, rule: str) -> None:
    with pytest.raises(MalformedUrl) as refused:
        DEFAULT.check_url(url)
    assert refused.value.rule == rule


def test_public_names_and_addresses_pass_the_registration_check() -> None:
    target = DEFAULT.check_url("https://user:pw@Files.Example.com:8443/a/b.enc?sig=1")
    assert (target.host, target.port, target.address) == ("files.example.com", 8443, None)
    assert DEFAULT.check_url("http://8.8.8.8/x").address == ipaddress.ip_address("8.8.8.8")
    assert DEFAULT.check_url("http://[2606:4700:4700::1111]/x").port == 80


def test_allow_rules_open_exactly_what_they_name() -> None:
    policy = EgressPolicy.from_texts(["127.0.0.1:8080", "10.0.0.0/8", "files.internal", "[::1]:9000"])
    loopback, private = ipaddress.ip_address("127.0.0.1"), ipaddress.ip_address("10.9.8.7")
    assert policy.refusal("127.0.0.1", 8080, loopback) is None
    assert policy.refusal("127.0.0.1", 8081, loopback) == "loopback"  # the rule names one port
    assert policy.refusal("x", 1, private) is None
    assert policy.refusal("files.internal", 443, ipaddress.ip_address("192.168.0.5")) is None
    assert policy.refusal("other.internal", 443, ipaddress.ip_address("192.168.0.5")) == "private"
    assert policy.refusal("h", 9000, ipaddress.ip_address("::1")) is None
    assert policy.check_url("http://127.0.0.1:8080/in.enc").address == loopback
    assert policy.check_url("http://localhost:8080/in.enc").host == "localhost"  # localhost is 127.0.0.1
    with pytest.raises(UrlRefused, match="loopback"):
        policy.check_url("http://127.0.0.1:22/")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("10.0.0.1/8", "host bits set"),
        ("[::1", "written \\[address\\]"),
        ("h:0", "not a port"),
        ("h:http", "not a port"),
        ("a..b", "not a valid host name"),
        ("2130706433", "four decimal numbers"),
        ("fe80::1%eth0", "zone identifiers"),
    ],
)
def test_bad_allow_rules_are_refused_naming_the_mistake(text: str, expected: str) -> None:
    with pytest.raises(MalformedUrl, match=expected):
        parse_allow_rule(text)


def test_serve_and_worker_refuse_a_bad_allow_rule_by_flag_or_environment(tmp_path: Path) -> None:
    runner = CliRunner()
    data_dir = str(tmp_path / "data")
    done = runner.invoke(serve_command, ["--data-dir", data_dir, "--allow-url", "10.0.0.1/8"])
    assert done.exit_code == 2 and "allow rule '10.0.0.1/8': 10.0.0.1/8 has host bits set" in done.output
    # The variable holds several rules separated by spaces; the first is fine, the second is not.
    done = runner.invoke(worker_command, ["--data-dir", data_dir], env={"TEABOX_ALLOW_URL": "127.0.0.1 bad..host"})
    assert done.exit_code == 2 and "allow rule 'bad..host'" in done.output
    assert not (tmp_path / "data").exists(), "nothing starts with a bad rule"
