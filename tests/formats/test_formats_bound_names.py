"""The one rule that maps a file's URL to the name a teaclave-file-128 file is bound to."""

from __future__ import annotations

import pytest

from teabox.formats import FormatError
from teabox.formats.bound_names import bound_name


def test_bound_names() -> None:
    assert bound_name("file:///data/psi0.txt.enc") == "psi0.txt.enc"
    assert bound_name("https://h/a/b%20c.enc?sig=1") == "b c.enc"
    assert bound_name("teabox://files/abc/my%20verdict.enc") == "my verdict.enc"
    assert bound_name("data:application/octet-stream;name=a.enc;base64,AAAA") == "a.enc"
    assert bound_name("data:text/plain,1") == "data"


@pytest.mark.parametrize("url", ["https://h/", "https://h/a/%2e%2e", "https://h/a%2Fb", "https://h/a%00b"])
def test_urls_without_a_usable_name_are_refused(url: str) -> None:
    with pytest.raises(FormatError, match="must end in a file name"):
        bound_name(url)
