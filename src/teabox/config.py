"""Every environment variable teabox reads, with its default and meaning, in one place.

Modules read a variable through its :class:`Variable` here (``config.URL.get()``, or
``envvar=config.DATA_DIR.name`` for a command-line option), never through ``os.environ``
directly; a test checks that, and that ``docs/configuration.md`` shows :func:`markdown_table`
(``python -m teabox.config`` prints it). Adding a variable is one ``_variable(...)`` line below.

The server's own settings (upload limits, token lifetime, per-user caps, retention, the
service's flood limits) are options of ``teabox serve`` with their defaults in
:class:`teabox.platform.settings.Settings` and :class:`teabox.service.limits.ServiceLimits`;
the doc lists where. This module imports only :mod:`teabox.errors`, so that any part may import it.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from teabox.errors import TeaboxError

DEFAULT_URL = "http://127.0.0.1:7777"
DEFAULT_DATA_DIR = "teabox-data"
DEFAULT_CACHE_MAX_BYTES = 1024 * 1024 * 1024
DEFAULT_SANDBOX_USER = "nobody"
DEFAULT_PROFILE = "default"
DEFAULT_ADMIN = "admin"


class ConfigError(TeaboxError):
    """An environment variable holds a value teabox cannot use; the message names it."""


@dataclass(frozen=True)
class Variable:
    """One environment variable: ``default`` says, for people, what applies when it is unset."""

    name: str
    default: str
    meaning: str

    def get(self) -> str | None:
        """The value, or None when the variable is unset or empty (an empty value means "unset")."""
        return os.environ.get(self.name) or None

    def is_set(self) -> bool:
        return self.name in os.environ

    def set(self, value: str) -> None:
        """Set it for this process and the processes it starts (how a command hands a choice to its workers)."""
        os.environ[self.name] = value

    def get_int(self, default: int) -> int:
        """The value as a whole number of at least 1, or ``default`` when unset."""
        value = self.get()
        if value is None:
            return default
        try:
            number = int(value)
        except ValueError:
            raise ConfigError(f"{self.name} must be a whole number, not {value!r}") from None
        if number < 1:
            raise ConfigError(f"{self.name} must be at least 1, not {number}")
        return number


VARIABLES: list[Variable] = []


def _variable(name: str, default: str, meaning: str) -> Variable:
    variable = Variable(name, default, meaning)
    VARIABLES.append(variable)
    return variable


# Clients: the SDK, the platform commands (teabox login, task, file ...), the demo flows.
URL = _variable("TEABOX_URL", DEFAULT_URL, "The server the SDK and the platform commands talk to.")
TOKEN = _variable(
    "TEABOX_TOKEN", "the saved session's", "A session token: the commands use it instead of a saved login."
)
PROFILE = _variable("TEABOX_PROFILE", DEFAULT_PROFILE, "Which saved session the platform commands use (`--profile`).")
CONFIG = _variable(
    "TEABOX_CONFIG", "`$XDG_CONFIG_HOME/teabox/session.json`", "The file the platform commands keep sessions in."
)
XDG_CONFIG_HOME = _variable("XDG_CONFIG_HOME", "`~/.config`", "Where `TEABOX_CONFIG` lives when that is unset.")
ADMIN = _variable("TEABOX_ADMIN", DEFAULT_ADMIN, "The PlatformAdmin's user id for the demo flows' `--url` mode.")
ADMIN_PASSWORD = _variable(
    "TEABOX_ADMIN_PASSWORD", "none (required with `--url`)", "The PlatformAdmin's password for the demo flows."
)
# The platform: teabox serve, worker, admin.
DATA_DIR = _variable("TEABOX_DATA_DIR", DEFAULT_DATA_DIR, "The platform's data directory (`--data-dir`).")
PLATFORM_KEY = _variable(
    "TEABOX_PLATFORM_KEY",
    "the data directory's `platform.key`",
    "The key (64 hex digits) that seals the file keys in the database.",
)
PASSWORD_HASH = _variable(
    "TEABOX_PASSWORD_HASH",
    "`rfc-9106-low-memory`",
    "argon2id's cost for new password hashes: `rfc-9106-low-memory` (3 passes over 64 MiB in 4 lanes) or "
    "`cheapest`, for test suites only: it makes a guessed password nearly free, and every process that "
    "uses it logs a warning. A stored hash keeps the cost it was made with.",
)
ALLOW_URL = _variable(
    "TEABOX_ALLOW_URL",
    "none: globally routable addresses only",
    "Hosts, addresses or ranges input and output URLs may reach, space-separated (`--allow-url`).",
)
DATABASE_URL = _variable(
    "TEABOX_DATABASE_URL",
    "the data directory's SQLite file",
    "The platform's database (`--database`): a PostgreSQL URL lets several servers and workers share it.",
)
BLOBS_URL = _variable(
    "TEABOX_BLOBS_URL",
    "the data directory's `blobs/` folder",
    "Where payloads and hosted files live (`--blobs`): a folder, or `s3://bucket/prefix`.",
)
S3_ENDPOINT = _variable(
    "AWS_ENDPOINT_URL_S3",
    "`AWS_ENDPOINT_URL`, else Amazon S3's",
    "The S3 store's address when `--s3-endpoint` is not given.",
)
ENDPOINT = _variable("AWS_ENDPOINT_URL", "Amazon S3's", "The same, for every AWS service (`AWS_ENDPOINT_URL_S3` wins).")
PRESIGN_DOWNLOADS = _variable(
    "TEABOX_PRESIGN_DOWNLOADS",
    "none: downloads stream through the server",
    "Seconds a presigned S3 download URL lives; set, `serve` answers downloads with one (`--presign-downloads`).",
)
S3_PUBLIC_ENDPOINT = _variable(
    "TEABOX_S3_PUBLIC_ENDPOINT",
    "the endpoint the server uses",
    "The S3 store's address as clients reach it, in presigned download URLs (`--s3-public-endpoint`).",
)
WORKER_URL = _variable(
    "TEABOX_WORKER_URL",
    "none: workers use the data directory's database",
    "The API servers a remote `teabox worker` works for (`--url`, with `--token-file`).",
)
LOG_FORMAT = _variable(
    "TEABOX_LOG_FORMAT", "`text`", "`text` or `json` log lines (`--log-format`); worker processes inherit it."
)
LOG_LEVEL = _variable("TEABOX_LOG_LEVEL", "`warning`", "The log level worker processes inherit from `--log-level`.")
METRICS_TOKEN_FILE = _variable(
    "TEABOX_METRICS_TOKEN_FILE",
    "none: `/metrics` answers only `--metrics-allow` addresses",
    "A file holding the token that may read `/metrics` (`--metrics-token-file`).",
)
METRICS_DIR = _variable(
    "PROMETHEUS_MULTIPROC_DIR",
    "`/dev/shm/teabox-metrics-<uid>-<digest of the data directory>`",
    "Where a server's processes add up their `/metrics` figures (set for them by `serve` and `worker`).",
)
# Running payloads.
CACHE_DIR = _variable(
    "TEABOX_CACHE_DIR", "`$XDG_CACHE_HOME/teabox`", "Where compiled modules and builds are cached on disk."
)
XDG_CACHE_HOME = _variable("XDG_CACHE_HOME", "`~/.cache`", "Where `TEABOX_CACHE_DIR` lives when that is unset.")
CACHE_MAX_BYTES = _variable(
    "TEABOX_CACHE_MAX_BYTES", f"{DEFAULT_CACHE_MAX_BYTES} (1 GiB)", "The compiled-module cache's size on disk."
)
SANDBOX_USER = _variable(
    "TEABOX_SANDBOX_USER", DEFAULT_SANDBOX_USER, "The unprivileged user sandbox processes run as (under root)."
)
# Building payloads.
RUSTC = _variable("TEABOX_RUSTC", "Debian's, then `PATH`'s, then rustup's", "The rustc `teabox build` uses for Rust.")
CARGO_TARGET_DIR = _variable(
    "TEABOX_CARGO_TARGET_DIR", "`cargo-target` in the cache directory", "Where cargo keeps what it compiled."
)


def markdown_table() -> str:
    """The variables as the Markdown table of docs/configuration.md."""
    rows = [f"| `{v.name}` | {v.default} | {v.meaning} |" for v in VARIABLES]
    return "\n".join(["| variable | when unset | meaning |", "|---|---|---|", *rows]) + "\n"


if __name__ == "__main__":
    print(markdown_table(), end="")
