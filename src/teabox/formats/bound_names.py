"""The file name a ``teaclave-file-128`` file at a URL is bound to: one rule for every caller.

The worker (which decrypts inputs and encrypts outputs), the platform (which
refuses at registration a URL that has no such name) and the client (which
decrypts what it downloads) must agree on the name, or a file one of them
wrote cannot be read by another; so all of them use :func:`bound_name`.
"""

from __future__ import annotations

from pathlib import PurePosixPath
from urllib.parse import unquote, urlsplit

from teabox.formats.errors import FormatError

MAX_NAME_BYTES = 258


def bound_name(url: str) -> str:
    """The last component of the URL's path, percent-decoded, as Teaclave did.

    A ``data:`` URL has no path; it may carry the name as a ``name=``
    media-type parameter (``data:application/octet-stream;name=a.enc;base64,...``)
    and is called ``data`` otherwise. Raises :class:`FormatError` (check
    ``file name``) for a URL that does not end in a usable name.
    """
    try:
        parts = urlsplit(url)
    except ValueError as exc:
        raise FormatError("file name", f"the URL is malformed ({exc})") from exc
    if parts.scheme == "data":
        header = parts.path.split(",", 1)[0]
        for parameter in header.split(";")[1:]:
            key, _, value = parameter.partition("=")
            if key.strip().lower() == "name" and value:
                name = unquote(value)
                break
        else:
            name = "data"
    else:
        name = unquote(PurePosixPath(parts.path).name)
    if name in ("", ".", "..") or "/" in name or "\x00" in name or len(name.encode()) > MAX_NAME_BYTES:
        raise FormatError(
            "file name", f"the URL's path must end in a file name of 1-{MAX_NAME_BYTES} bytes without '/' or NUL"
        )
    return name
