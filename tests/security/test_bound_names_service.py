"""The worker, the platform and the client derive a file's bound name from its URL the same way,
so a file named with characters a URL must percent-encode can be written and fetched."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from support.egress import copy_function, run_alone

from teabox.client import Client


def test_an_output_reserved_as_my_verdict_can_be_fetched(make_user: Callable[..., Client], tmp_path: Path) -> None:
    vendor = make_user("vendor", "FunctionOwner")
    owner = make_user("owner", "DataOwner", "names")
    (tmp_path / "my input.txt").write_bytes(b"the verdict is yes")
    source = owner.register_local_input(tmp_path / "my input.txt")
    output = owner.register_hosted_output("my verdict.enc")
    assert output.url.endswith("/my%20verdict.enc")
    run_alone(owner, copy_function(vendor), {"in": source.data_id}, {"out": output.data_id})
    owner.fetch_output(output.data_id, output.crypto, tmp_path / "verdict.txt")
    assert (tmp_path / "verdict.txt").read_bytes() == b"the verdict is yes"
