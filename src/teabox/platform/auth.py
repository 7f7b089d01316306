"""Passwords and tokens.

Passwords are hashed with argon2id (memory-hard), only at registration, login
and password changes, never inside a database transaction, and at most one
hash per CPU at a time: each takes tens of milliseconds and 64 MiB, so a flood
of logins must queue rather than exhaust the machine. Tokens are 256 random
bits; only their sha256 is stored, so checking one on each request is a
single indexed lookup and a stolen database does not yield usable tokens. Tokens live in the database,
so they survive a restart and can be revoked.
"""

from __future__ import annotations

import functools
import hashlib
import logging
import os
import secrets
import threading

from argon2 import PasswordHasher, profiles
from argon2.exceptions import InvalidHashError, VerificationError

from teabox import config
from teabox.config import ConfigError
from teabox.platform.errors import Invalid

log = logging.getLogger(__name__)

# The costs TEABOX_PASSWORD_HASH may name: RFC 9106's second recommendation (argon2-cffi's default), and
# argon2-cffi's cheapest, which exists for test suites that register and log in thousands of users.
HASH_PROFILES = {"rfc-9106-low-memory": profiles.RFC_9106_LOW_MEMORY, "cheapest": profiles.CHEAPEST}
DEFAULT_HASH_PROFILE = "rfc-9106-low-memory"

_hashing = threading.BoundedSemaphore(os.cpu_count() or 1)

MIN_PASSWORD, MAX_PASSWORD = 8, 1024


@functools.cache
def password_hasher() -> PasswordHasher:
    """The hasher for new hashes, chosen on first use (a verify takes its costs from the stored hash).

    ``teabox serve`` calls it before serving, so that a bad TEABOX_PASSWORD_HASH stops the start and the
    warning about a cheap one is among the first lines of its log.
    """
    name = config.PASSWORD_HASH.get() or DEFAULT_HASH_PROFILE
    if name not in HASH_PROFILES:
        raise ConfigError(f"{config.PASSWORD_HASH.name} must be one of {', '.join(HASH_PROFILES)}, not {name!r}")
    if name != DEFAULT_HASH_PROFILE:
        log.warning(
            "%s=%s: new passwords get argon2's cheapest hash, which is for tests only", config.PASSWORD_HASH.name, name
        )
    return PasswordHasher.from_parameters(HASH_PROFILES[name])


@functools.cache
def _dummy_hash() -> str:
    """Verified against when the user does not exist, so that a login for an unknown id costs the same.

    Made on first use, not at import: every server, worker and CLI process imports this module, and
    a hash costs a sixth of a second of CPU that most of them would never need.
    """
    return password_hasher().hash(secrets.token_urlsafe(16))


def check_password_rules(password: str) -> None:
    if not MIN_PASSWORD <= len(password) <= MAX_PASSWORD:
        raise Invalid(f"a password must be {MIN_PASSWORD} to {MAX_PASSWORD} characters long", "invalid_password")


def hash_password(password: str) -> str:
    check_password_rules(password)
    with _hashing:
        return password_hasher().hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    if len(password) > MAX_PASSWORD:  # no stored password is that long: refuse without paying for a hash
        return False
    try:
        with _hashing:
            return password_hasher().verify(password_hash or _dummy_hash(), password) and password_hash is not None
    except (VerificationError, InvalidHashError):
        return False


def new_token() -> tuple[str, str]:
    """A fresh token and the hash to store for it."""
    token = secrets.token_urlsafe(32)
    return token, token_hash(token)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()
