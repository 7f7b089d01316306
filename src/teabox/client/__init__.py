"""The teabox Python SDK.

A Teaclave script ports by changing its imports and connection lines::

    from teabox.client import AuthenticationService, FrontendService, FunctionArgument, ...
    client = FrontendService(("127.0.0.1", 7777), AS_ROOT_CA_CERT_PATH, ENCLAVE_INFO_PATH).connect()

Everything else (``register_function``, ``create_task``, ``get_task_result``...)
keeps Teaclave's names and parameters, records index as Teaclave's dicts
(``task["status"] == 10``), and every error is a ``TeaclaveException``. See
``docs/sdk.md``.
"""

from teabox.client.client import (
    AuthenticationService,
    Client,
    FrontendService,
    IgnoredTeaclaveArguments,
    OwnedFile,
)
from teabox.client.crypto import EncryptedFile, decrypt_file, encrypt_file
from teabox.client.errors import (
    ApiError,
    BadRequest,
    ClientError,
    Conflict,
    ConnectionFailed,
    Forbidden,
    InvalidRequest,
    NotFound,
    PayloadTooLarge,
    ServerError,
    TaskCanceled,
    TaskError,
    TaskFailed,
    TaskWaitTimeout,
    TeaclaveException,
    Unauthenticated,
)
from teabox.client.requests import DataMap, FunctionArgument, FunctionInput, FunctionOutput, OwnerList
from teabox.client.results import (
    AuditEntry,
    Function,
    FunctionList,
    FunctionUsage,
    HostedFile,
    RegisteredFile,
    Task,
    TaskResult,
    User,
)
from teabox.client.teaclave_shapes import TaskStatus
from teabox.formats import CryptoInfo

__all__ = [
    "ApiError",
    "AuditEntry",
    "AuthenticationService",
    "BadRequest",
    "Client",
    "ClientError",
    "Conflict",
    "ConnectionFailed",
    "CryptoInfo",
    "DataMap",
    "EncryptedFile",
    "Forbidden",
    "FrontendService",
    "Function",
    "FunctionArgument",
    "FunctionInput",
    "FunctionList",
    "FunctionOutput",
    "FunctionUsage",
    "HostedFile",
    "IgnoredTeaclaveArguments",
    "InvalidRequest",
    "NotFound",
    "OwnedFile",
    "OwnerList",
    "PayloadTooLarge",
    "RegisteredFile",
    "ServerError",
    "Task",
    "TaskCanceled",
    "TaskError",
    "TaskFailed",
    "TaskResult",
    "TaskStatus",
    "TaskWaitTimeout",
    "TeaclaveException",
    "Unauthenticated",
    "User",
    "decrypt_file",
    "encrypt_file",
]
