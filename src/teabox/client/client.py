"""The teabox Python SDK: one :class:`Client` per user session.

Method names, parameter names and defaults follow Teaclave's Python SDK, so a
Teaclave example script ports by changing its imports and the lines that
connect; the rest of the script runs unchanged. Where Teaclave split the API
over an authentication and a frontend service, teabox has one server, and
:class:`AuthenticationService` and :class:`FrontendService` are both this class
with Teaclave's constructor.

Results are typed (:mod:`teabox.client.results`), refusals raise the typed
exceptions of :mod:`teabox.client.errors`, and every wait has a deadline.
"""

from __future__ import annotations

import os
import tempfile
import time
import warnings
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from teabox import config
from teabox.client.crypto import DEFAULT_SCHEMA, decrypt_file, encrypt_file, verify_file
from teabox.client.errors import TaskCanceled, TaskFailed, TaskWaitTimeout
from teabox.client.requests import (
    FunctionArgument,
    FunctionInput,
    FunctionOutput,
    data_map_json,
    declarations_json,
    owners_json,
)
from teabox.client.results import (
    AuditEntry,
    Function,
    FunctionList,
    FunctionUsage,
    HostedFile,
    Login,
    RegisteredFile,
    Task,
    TaskResult,
    User,
)
from teabox.client.transfer import Progress, read_chunks, write_atomically
from teabox.client.transport import DEFAULT_TIMEOUT, Address, Http, Transport
from teabox.client.wire import BytesLike, to_bytes, to_hex
from teabox.formats import CryptoInfo
from teabox.formats.bound_names import bound_name

# The server holds one long-poll at most this long; the client loops up to its own deadline.
LONG_POLL_SECONDS = 30.0
DEFAULT_WAIT_SECONDS = 60.0

# on_wait(status name, seconds waited so far): lets the CLI animate a wait.
WaitCallback = Callable[[str, float], None]


@dataclass(frozen=True)
class OwnedFile:
    """A file an owner registered from this machine, with the key only they hold."""

    data_id: str
    url: str
    crypto: CryptoInfo
    cmac: bytes | None = None


class Client:
    """A connection to a teabox server, logged in as one user (or not yet).

    ``address`` is a URL (``http://127.0.0.1:7777``), a ``(host, port)`` pair
    as Teaclave's scripts pass, or None for ``$TEABOX_URL``. A ``token`` (or
    ``$TEABOX_TOKEN`` when ``token`` is None and ``use_env_token``) resumes a
    session without a password. ``http`` sends the requests through an
    ``httpx.Client`` of the caller's (which stays open after :meth:`close`) or
    an httpx transport, e.g. one that calls the service's ASGI app in-process.
    """

    def __init__(
        self,
        address: Address | None = None,
        *,
        token: str | None = None,
        timeout: float = DEFAULT_TIMEOUT,
        use_env_token: bool = False,
        http: Http | None = None,
    ) -> None:
        if token is None and use_env_token:
            token = config.TOKEN.get()
        self._transport = Transport(address, token=token, timeout=timeout, http=http)
        self.user_id: str | None = None
        self.token_expires_at: str | None = None

    # --- connection -----------------------------------------------------------------

    @property
    def url(self) -> str:
        return self._transport.url

    @property
    def token(self) -> str | None:
        return self._transport.token

    @token.setter
    def token(self, value: str | None) -> None:
        self._transport.token = value

    @property
    def metadata(self) -> dict[str, str] | None:
        """Teaclave's ``{"id", "token"}`` session metadata; assigning it sets the token."""
        if self.token is None:
            return None
        return {"id": self.user_id or "", "token": self.token}

    @metadata.setter
    def metadata(self, value: dict[str, str] | None) -> None:
        self.user_id = value.get("id") if value else None
        self.token = value.get("token") if value else None

    def connect(self) -> Client:
        """Kept so ``Service(address).connect()`` lines work; the connection opens lazily."""
        return self

    def close(self) -> None:
        self._transport.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def health(self) -> dict[str, Any]:
        return self._transport.get("/api/v1/health")

    def _call(self, method: str, **body: Any) -> dict[str, Any]:
        return self._transport.call(method, body)

    # --- users ------------------------------------------------------------------------

    def user_login(self, user_id: str, user_password: str) -> str:
        """Log in; the token is kept for this client's later calls and also returned."""
        login = Login.from_json(self._call("user_login", user_id=user_id, password=user_password))
        self.user_id, self.token, self.token_expires_at = user_id, login.token, login.expires_at
        return login.token

    def user_logout(self) -> None:
        """Revoke this client's token on the server."""
        self._call("user_logout")
        self.token = None

    def user_register(self, user_id: str, user_password: str, role: str = "", attribute: str = "") -> None:
        self._call("user_register", user_id=user_id, password=user_password, role=role, attribute=attribute)

    def user_update(self, user_id: str, role: str, attribute: str = "") -> None:
        """Change a user's role (a password can be set only by its own user)."""
        self._call("user_update", user_id=user_id, role=role, attribute=attribute)

    def user_change_password(self, user_password: str) -> None:
        self._call("user_change_password", password=user_password)

    def reset_user_password(self, user_id: str) -> None:
        """Lock ``user_id``'s account: their sessions end and no password works until they redeem a reset token."""
        self._call("reset_user_password", user_id=user_id)

    def user_redeem_reset(self, user_id: str, reset_token: str, user_password: str) -> None:
        """Set a locked account's new password with the one-time token the operator issued (no login needed)."""
        self._call("user_redeem_reset", user_id=user_id, reset_token=reset_token, password=user_password)

    def delete_user(self, user_id: str) -> None:
        self._call("delete_user", user_id=user_id)

    def list_users(self, user_id: str | None = None) -> list[str]:
        """All users for an admin; for ``DataOwnerManager-X``, pass ``X`` (or None)."""
        return list(self._call("list_users", user_id=user_id)["ids"])

    def get_current_user(self) -> User:
        return User.from_json(self._call("get_current_user"))

    # --- functions --------------------------------------------------------------------

    def upload_payload(self, payload: BytesLike | os.PathLike[str]) -> str:
        """Upload a WebAssembly module (bytes or a path); returns its ``payload_id``."""
        return self._upload_payload(payload, "upload_payload")

    def _upload_payload(self, payload: BytesLike | os.PathLike[str], caller: str) -> str:
        """Upload for ``caller``, the SDK call the user made, which is what a refusal names."""
        if isinstance(payload, os.PathLike):
            with open(payload, "rb") as f:
                size = os.fstat(f.fileno()).st_size
                answer = self._transport.upload("upload_payload", read_chunks(f, size, None), size=size, caller=caller)
        else:
            data = to_bytes(payload, "payload")
            answer = self._transport.upload("upload_payload", [data], size=len(data), caller=caller)
        return str(answer["payload_id"])

    def _function_fields(
        self,
        caller: str,
        name: str,
        description: str,
        executor_type: str,
        public: bool,
        payload: BytesLike | os.PathLike[str] | None,
        payload_id: str | None,
        arguments: Iterable[Any],
        inputs: Iterable[Any],
        outputs: Iterable[Any],
        user_allowlist: Iterable[str],
        usage_quota: int | None,
        limits: dict[str, Any] | None,
    ) -> dict[str, Any]:
        if payload_id is None and executor_type != "builtin":  # a built-in's payload is the platform's own
            if payload is None or (not isinstance(payload, os.PathLike) and len(payload) == 0):  # type: ignore[arg-type]
                raise ValueError(f"{caller} needs a payload (bytes, a list of ints or a path) or a payload_id")
            payload_id = self._upload_payload(payload, caller)
        fields: dict[str, Any] = {
            "name": name,
            "description": description,
            "executor_type": executor_type,
            "public": public,
            "payload_id": payload_id,
            "arguments": declarations_json(arguments, FunctionArgument),
            "inputs": declarations_json(inputs, FunctionInput),
            "outputs": declarations_json(outputs, FunctionOutput),
            "user_allowlist": list(user_allowlist),
            "usage_quota": usage_quota,
        }
        if limits is not None:
            fields["limits"] = dict(limits)
        return fields

    def register_function(
        self,
        name: str,
        description: str,
        executor_type: str,
        public: bool = True,
        payload: BytesLike | os.PathLike[str] | None = None,
        arguments: Iterable[Any] = (),
        inputs: Iterable[Any] = (),
        outputs: Iterable[Any] = (),
        user_allowlist: Iterable[str] = (),
        usage_quota: int | None = -1,
        *,
        payload_id: str | None = None,
        limits: dict[str, Any] | None = None,
    ) -> str:
        """Register a function; the payload is uploaded first and checked by the server.

        ``limits`` (``timeout_seconds``, ``memory_bytes``, ``fuel``,
        ``max_output_bytes``) bound every run; omitted ones take the server's defaults.
        """
        fields = self._function_fields(
            "register_function",
            name,
            description,
            executor_type,
            public,
            payload,
            payload_id,
            arguments,
            inputs,
            outputs,
            user_allowlist,
            usage_quota,
            limits,
        )
        return str(self._call("register_function", **fields)["function_id"])

    def update_function(
        self,
        function_id: str,
        name: str,
        description: str,
        executor_type: str,
        public: bool = True,
        payload: BytesLike | os.PathLike[str] | None = None,
        arguments: Iterable[Any] = (),
        inputs: Iterable[Any] = (),
        outputs: Iterable[Any] = (),
        user_allowlist: Iterable[str] = (),
        usage_quota: int | None = -1,
        *,
        payload_id: str | None = None,
        limits: dict[str, Any] | None = None,
    ) -> str:
        """Replace a function's definition; its id and owner stay the same."""
        fields = self._function_fields(
            "update_function",
            name,
            description,
            executor_type,
            public,
            payload,
            payload_id,
            arguments,
            inputs,
            outputs,
            user_allowlist,
            usage_quota,
            limits,
        )
        return str(self._call("update_function", function_id=function_id, **fields)["function_id"])

    def disable_function(self, function_id: str) -> None:
        self._call("disable_function", function_id=function_id)

    def delete_function(self, function_id: str) -> None:
        self._call("delete_function", function_id=function_id)

    def get_function(self, function_id: str) -> Function:
        """The function; ``function["payload"]`` downloads its module when first read, as Teaclave returned it."""
        function = Function.from_json(self._call("get_function", function_id=function_id))
        return function.with_payload_source(lambda: self._payload_bytes(function_id))

    def _payload_bytes(self, function_id: str) -> bytes:
        with self._transport.download("download_payload", {"function_id": function_id}) as response:
            return response.read()

    def list_functions(self, user_id: str | None = None) -> FunctionList:
        return FunctionList.from_json(self._call("list_functions", user_id=user_id))

    def get_function_usage_stats(self, function_id: str) -> FunctionUsage:
        return FunctionUsage.from_json(self._call("get_function_usage_stats", function_id=function_id))

    def download_payload(self, function_id: str, destination: str | os.PathLike[str]) -> int:
        with self._transport.download("download_payload", {"function_id": function_id}) as response:
            total = _content_length(response)
            return write_atomically(response.iter_bytes(), destination, total, None)

    # --- files ------------------------------------------------------------------------

    def register_input_file(self, url: str, schema: str, key: BytesLike, iv: BytesLike, cmac: BytesLike | None) -> str:
        """Register an encrypted file at ``url`` as an input; ``cmac`` is None only for ``raw``."""
        answer = self._call(
            "register_input_file",
            url=url,
            schema=schema,
            key=to_hex(key, "key"),
            iv=to_hex(iv, "iv"),
            cmac=None if cmac is None else to_hex(cmac, "cmac"),
        )
        return str(answer["data_id"])

    def register_output_file(self, url: str, schema: str, key: BytesLike, iv: BytesLike) -> str:
        answer = self._call("register_output_file", url=url, schema=schema, key=to_hex(key, "key"), iv=to_hex(iv, "iv"))
        return str(answer["data_id"])

    def update_input_file(self, data_id: str, url: str) -> str:
        """Point an input at a new URL; returns the id of the new record (the old one stays)."""
        return str(self._call("update_input_file", data_id=data_id, url=url)["data_id"])

    def update_output_file(self, data_id: str, url: str) -> str:
        return str(self._call("update_output_file", data_id=data_id, url=url)["data_id"])

    def get_input_file(self, data_id: str) -> RegisteredFile:
        return RegisteredFile.from_json(self._call("get_input_file", data_id=data_id))

    def get_output_file(self, data_id: str) -> RegisteredFile:
        return RegisteredFile.from_json(self._call("get_output_file", data_id=data_id))

    def list_files(self) -> tuple[list[RegisteredFile], list[RegisteredFile]]:
        """The caller's own registered (inputs, outputs), newest first."""
        answer = self._call("list_files")
        return (
            [RegisteredFile.from_json(item) for item in answer["inputs"]],
            [RegisteredFile.from_json(item) for item in answer["outputs"]],
        )

    def register_fusion_output(self, owners: Sequence[str]) -> str:
        """An output owned jointly by ``owners`` (two or more, including the caller); each other owner must
        :meth:`accept_fusion_output` it before it can be bound to a task."""
        return str(self._call("register_fusion_output", owner_list=list(owners))["data_id"])

    def accept_fusion_output(self, data_id: str) -> list[str]:
        """Agree to co-own a fusion output another owner registered; returns the owners still to agree."""
        return list(self._call("accept_fusion_output", data_id=data_id)["pending_owners"])

    def register_input_from_output(self, data_id: str) -> str:
        """Reuse an output a finished task wrote as an input of a new task."""
        return str(self._call("register_input_from_output", data_id=data_id)["data_id"])

    # --- platform-hosted files ----------------------------------------------------------

    def upload_file(
        self, source: str | os.PathLike[str], name: str | None = None, *, progress: Progress | None = None
    ) -> HostedFile:
        """Stream a local (already encrypted) file to the platform.

        ``name`` becomes the URL's last component and defaults to the file's
        basename; for teaclave-file-128 it must be the name bound at encryption.
        """
        source = Path(source)
        with open(source, "rb") as f:
            size = os.fstat(f.fileno()).st_size
            answer = self._transport.upload(
                "upload_file", read_chunks(f, size, progress), size=size, params={"name": name or source.name}
            )
        return HostedFile.from_json(answer)

    def reserve_file(self, name: str) -> HostedFile:
        """An empty platform-hosted file for a task to write, to register as an output."""
        return HostedFile.from_json(self._call("reserve_file", name=name))

    def download_file(self, url: str, destination: str | os.PathLike[str], *, progress: Progress | None = None) -> int:
        """Stream a platform-hosted file to ``destination``; returns the byte count."""
        with self._transport.download("download_file", {"url": url}) as response:
            return write_atomically(response.iter_bytes(), destination, _content_length(response), progress)

    def register_local_input(
        self,
        path: str | os.PathLike[str],
        *,
        crypto: CryptoInfo | None = None,
        schema: str = DEFAULT_SCHEMA,
        name: str | None = None,
        progress: Progress | None = None,
    ) -> OwnedFile:
        """Encrypt a local plaintext file, upload the ciphertext and register it as an input.

        The plaintext never leaves this machine; a fresh key is drawn unless
        ``crypto`` is given. Keep the returned ``crypto``: the server never returns keys.
        """
        path = Path(path)
        name = name or path.name + ".enc"
        with tempfile.TemporaryDirectory(prefix="teabox-upload-") as tmp:
            encrypted = encrypt_file(path, Path(tmp) / name, crypto=crypto, schema=schema, name=name)
            return self.register_encrypted_input(encrypted.path, encrypted.crypto, name=name, progress=progress)

    def register_encrypted_input(
        self,
        path: str | os.PathLike[str],
        crypto: CryptoInfo,
        *,
        name: str | None = None,
        progress: Progress | None = None,
    ) -> OwnedFile:
        """Upload a file that is already encrypted and register it as an input.

        The file is verified here first, which also yields the cmac to register,
        so a wrong key or a damaged file is refused before anything is sent.
        ``name`` (default: the file's basename) is the name bound into a
        teaclave-file-128 file.
        """
        path = Path(path)
        name = name or path.name
        cmac = verify_file(path, crypto=crypto, name=name)
        hosted = self.upload_file(path, name, progress=progress)
        data_id = self.register_input_file(hosted.url, crypto.schema, crypto.key, crypto.iv, cmac)
        return OwnedFile(data_id=data_id, url=hosted.url, crypto=crypto, cmac=cmac)

    def register_hosted_output(
        self, name: str, *, crypto: CryptoInfo | None = None, schema: str = DEFAULT_SCHEMA
    ) -> OwnedFile:
        """Reserve a platform-hosted file and register it as an output under a fresh key."""
        crypto = crypto or CryptoInfo.random(schema)
        hosted = self.reserve_file(name)
        data_id = self.register_output_file(hosted.url, crypto.schema, crypto.key, crypto.iv)
        return OwnedFile(data_id=data_id, url=hosted.url, crypto=crypto)

    def fetch_output(
        self, data_id: str, crypto: CryptoInfo, destination: str | os.PathLike[str], *, progress: Progress | None = None
    ) -> bytes | None:
        """Download an output a task wrote and decrypt it to ``destination``.

        The ciphertext is checked against the cmac the platform recorded for the
        output, so a file swapped on the server is refused; returns that cmac.
        """
        record = self.get_output_file(data_id)
        with tempfile.TemporaryDirectory(prefix="teabox-download-") as tmp:
            name = bound_name(record.url)
            encrypted = Path(tmp) / name
            self.download_file(record.url, encrypted, progress=progress)
            return decrypt_file(encrypted, destination, crypto=crypto, name=name, expected_cmac=record.cmac)

    # --- tasks ------------------------------------------------------------------------

    def create_task(
        self,
        function_id: str,
        function_arguments: dict[str, Any] | None = None,
        executor: str = "wamr",
        inputs_ownership: Iterable[Any] = (),
        outputs_ownership: Iterable[Any] = (),
    ) -> str:
        answer = self._call(
            "create_task",
            function_id=function_id,
            function_arguments=dict(function_arguments or {}),
            executor=executor,
            inputs_ownership=owners_json(inputs_ownership),
            outputs_ownership=owners_json(outputs_ownership),
        )
        return str(answer["task_id"])

    def assign_data_to_task(self, task_id: str, inputs: Iterable[Any] = (), outputs: Iterable[Any] = ()) -> None:
        self._call("assign_data_to_task", task_id=task_id, inputs=data_map_json(inputs), outputs=data_map_json(outputs))

    def approve_task(self, task_id: str) -> None:
        self._call("approve_task", task_id=task_id)

    def invoke_task(self, task_id: str) -> None:
        self._call("invoke_task", task_id=task_id)

    def cancel_task(self, task_id: str) -> None:
        self._call("cancel_task", task_id=task_id)

    def get_task(self, task_id: str) -> Task:
        return Task.from_json(self._call("get_task", task_id=task_id))

    def list_tasks(self) -> list[str]:
        return list(self._call("list_tasks")["task_ids"])

    def poll_task_result(self, task_id: str, timeout: float = LONG_POLL_SECONDS) -> TaskResult:
        """One long-poll: returns as soon as the task ends, or after ``timeout`` with ``done`` False."""
        answer = self._transport.call(
            "get_task_result", {"task_id": task_id, "timeout": timeout}, timeout=timeout + self._transport.timeout
        )
        return TaskResult.from_json(answer)

    def wait_for_task(
        self,
        task_id: str,
        timeout: float = DEFAULT_WAIT_SECONDS,
        *,
        on_wait: WaitCallback | None = None,
        poll_seconds: float = LONG_POLL_SECONDS,
    ) -> TaskResult:
        """Wait until the task ends, at most ``timeout`` seconds.

        Returns the result of a Finished task; raises :class:`TaskFailed`
        (with ``kind`` and ``reason``), :class:`TaskCanceled`, or
        :class:`TaskWaitTimeout` when the deadline passes first. A long poll
        returns only when the task ends, so ``on_wait`` hears of a change from
        Staged to Running after at most ``poll_seconds``.
        """
        start = time.monotonic()
        deadline = start + timeout
        while True:
            remaining = deadline - time.monotonic()
            result = self.poll_task_result(task_id, max(0.0, min(remaining, poll_seconds)))
            if on_wait:
                on_wait(result.status, time.monotonic() - start)
            if result.done:
                return _raise_unless_finished(result)
            if time.monotonic() >= deadline:
                raise TaskWaitTimeout(task_id, timeout, result.status)

    def get_task_result(self, task_id: str, timeout: float = DEFAULT_WAIT_SECONDS) -> bytes:
        """The return value of a finished task as bytes (``b"6"``), as Teaclave returned it.

        Unlike Teaclave's endless poll this waits at most ``timeout`` seconds, and a
        failed run raises :class:`TaskFailed` instead of returning ``b""``.
        """
        result = self.wait_for_task(task_id, timeout)
        return (result.return_value or "").encode()

    def get_output_cmac_by_tag(self, task_id: str, tag: str, timeout: float = DEFAULT_WAIT_SECONDS) -> bytes:
        """The 16-byte tag the task recorded for output data name ``tag``, once it finished."""
        self.wait_for_task(task_id, timeout)
        return bytes.fromhex(self._call("get_output_cmac_by_tag", task_id=task_id, tag=tag)["cmac"])

    # --- audit ------------------------------------------------------------------------

    def query_audit_logs(
        self, message: str = "", limit: int = 100, *, user_id: str | None = None, action: str | None = None
    ) -> list[AuditEntry]:
        """Audit entries, newest first (admin only); ``message`` filters by substring."""
        answer = self._call("query_audit_logs", message=message, limit=limit, user_id=user_id, action=action)
        return [AuditEntry.from_json(entry) for entry in answer["logs"]]

    def get_queue_stats(self) -> dict[str, Any]:
        """Tasks by status, queue depth and age, and the running tasks' workers (admin only)."""
        return self._call("get_queue_stats")


def _raise_unless_finished(result: TaskResult) -> TaskResult:
    if result.status == "Failed":
        raise TaskFailed(result.task_id, result.failure_kind or "unknown", result.reason or "no reason recorded")
    if result.status == "Canceled":
        raise TaskCanceled(result.task_id, result.reason or "")
    return result


def _content_length(response: Any) -> int | None:
    value = response.headers.get("Content-Length")
    return int(value) if value is not None and value.isdigit() else None


class IgnoredTeaclaveArguments(UserWarning):
    """Teaclave connection arguments that teabox accepts so scripts run, but cannot use."""


class _TeaclaveService(Client):
    """:class:`Client` with the constructor of Teaclave's service classes.

    Teaclave's scripts pass ``(address, as_root_ca_cert_path, enclave_info_path)``
    with the address as a ``(host, port)`` tuple. The two paths verified the SGX
    attestation report of Teaclave's enclaves; teabox runs no enclaves, so they
    are accepted, ignored, and one warning says so.
    """

    def __init__(
        self,
        address: Address | None = None,
        as_root_ca_cert_path: str | os.PathLike[str] | None = None,
        enclave_info_path: str | os.PathLike[str] | None = None,
        dump_report: bool = False,
        *,
        token: str | None = None,
        timeout: float = DEFAULT_TIMEOUT,
        use_env_token: bool = False,
    ) -> None:
        super().__init__(address, token=token, timeout=timeout, use_env_token=use_env_token)
        given = {
            "as_root_ca_cert_path": as_root_ca_cert_path is not None,
            "enclave_info_path": enclave_info_path is not None,
            "dump_report": dump_report,
        }
        ignored = [name for name, present in given.items() if present]
        if ignored:
            warnings.warn(
                f"{type(self).__name__}: {', '.join(ignored)} ignored: teabox runs no SGX enclaves, so there is "
                f"no attestation report to verify; the SDK talks HTTP to {self.url}",
                IgnoredTeaclaveArguments,
                stacklevel=2,
            )


class AuthenticationService(_TeaclaveService):
    """Teaclave's authentication client: the same session as :class:`FrontendService` here."""


class FrontendService(_TeaclaveService):
    """Teaclave's frontend client: the same session as :class:`AuthenticationService` here."""
