"""Exceptions shared by every layer, and the map of every error teabox raises on purpose.

Each layer raises a subclass of :class:`TeaboxError` so that callers can catch
teabox's own failures without swallowing programming errors. No public name is
defined twice: the SDK's classes (``teabox.client.errors``) keep the names a
Teaclave-style script catches, and the platform's refusals, which only the
service sees, are named for the rule they enforce. The tree (a test checks it
against the classes)::

    TeaboxError                         teabox.errors
        ClientError                     teabox.client.errors
            ApiError                    teabox.client.errors
                BadRequest              teabox.client.errors
                Conflict                teabox.client.errors
                Forbidden               teabox.client.errors
                InvalidRequest          teabox.client.errors
                NotFound                teabox.client.errors
                PayloadTooLarge         teabox.client.errors
                ServerError             teabox.client.errors
                Unauthenticated         teabox.client.errors
            ConnectionFailed            teabox.client.errors
            TaskError                   teabox.client.errors
                TaskCanceled            teabox.client.errors
                TaskFailed              teabox.client.errors
                TaskWaitTimeout         teabox.client.errors
        ServerStartError                teabox.testing.local_server
        ConfigError                     teabox.config
        DatabaseUrlError                teabox.platform.database_url
        SchemaOutdated                  teabox.platform.db
        BlobLocationError               teabox.platform.blob_location
        InvalidArguments                teabox.errors
        InvalidPayload                  teabox.errors
        FileCheckError                  teabox.formats.errors
            FormatError                 teabox.formats.errors
            IntegrityError              teabox.formats.errors
        UrlRefused                      teabox.platform.egress
            MalformedUrl                teabox.platform.egress
        PlatformError                   teabox.platform.errors
            StorageFull                 teabox.platform.disk_space
            InternalError               teabox.platform.errors
            Invalid                     teabox.platform.errors
            MalformedRequest            teabox.platform.errors
            NoSuchObject                teabox.platform.errors
            NotAuthenticated            teabox.platform.errors
            NotPermitted                teabox.platform.errors
            RetryLater                  teabox.platform.errors
                TooManyRequests         teabox.platform.errors
                Unavailable             teabox.platform.errors
            StateConflict               teabox.platform.errors
            TooLarge                    teabox.platform.errors
        PlatformKeyError                teabox.platform.file_keys
        DataDirExposed                  teabox.platform.private_files
        DataDirUnwritable               teabox.platform.private_files
        BuildError                      teabox.toolchain.errors
            ToolchainMissing            teabox.toolchain.errors
        TransferError                   teabox.worker.fetch
            PublishError                teabox.worker.publish
        TransferTooSlow                 teabox.worker.pacing
        PayloadUnavailable              teabox.worker.payloads
        PlatformUnreachable             teabox.worker.remote
        PlatformRefused                 teabox.worker.remote

Outside the tree on purpose: ``MissingExtra`` (a ``click.ClickException``, so the
CLI prints it), ``IgnoredTeaclaveArguments`` (a warning), and signals that never
leave their module's caller (``HandleRefused``, ``HostTrap``, ``WireError``,
``MalformedModule``, ``InputError``).
"""

from __future__ import annotations


class TeaboxError(Exception):
    """Base class of every error teabox raises on purpose."""


class InvalidPayload(TeaboxError):
    """A module that does not satisfy the guest ABI; ``problems`` lists every reason."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = list(problems)
        super().__init__("invalid payload:\n" + "\n".join(f"  - {p}" for p in self.problems))


class InvalidArguments(TeaboxError):
    """Task arguments that cannot be passed to a payload (e.g. a NUL byte)."""
