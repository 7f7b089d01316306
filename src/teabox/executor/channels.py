"""The text channels: how a payload returns a text result, or fails with its own message.

The guest ABI's ``entrypoint`` returns an i32, but Teaclave's built-in functions
return text (``3 common items``) and fail with messages (``Invalid order``). A
payload that wants either creates one of two reserved outputs with
``teaclave_create_output`` and writes UTF-8 text to it. No function may declare
an output under these names, so they never collide with a task's data. A run
that wrote the error channel fails with that text as its reason; otherwise the
result channel's text, when created, replaces the decimal return value.
"""

from __future__ import annotations

RESULT_CHANNEL = "teabox:result"
ERROR_CHANNEL = "teabox:error"
CHANNELS = frozenset({RESULT_CHANNEL, ERROR_CHANNEL})
RESERVED_PREFIX = "teabox:"
# A result is stored with the task and shown to every participant: text, not a data file.
MAX_CHANNEL_BYTES = 1024 * 1024


def is_reserved(name: str) -> bool:
    """Whether ``name`` is kept for the executor's channels, present and future."""
    return name.startswith(RESERVED_PREFIX)


def decode(name: str, raw: bytes) -> str:
    """The channel's text; ValueError naming the channel when it is not UTF-8 or holds a NUL character.

    A task's result and failure reason are text in the platform's database, which (on PostgreSQL)
    cannot hold U+0000: refused here, a NUL fails the run the same way on every database.
    """
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ValueError(f"the payload wrote bytes that are not UTF-8 to {name!r} (at offset {exc.start})") from None
    if "\x00" in text:
        raise ValueError(f"the payload wrote a NUL character to {name!r} (at offset {raw.index(0)}): it must be text")
    return text
