"""The console's pages and form actions.

Every page and action is a call of a platform operation on behalf of the
signed-in user (:meth:`Platform.call`), exactly as the HTTP API makes it, so
the rules, the audit log and the errors are the API's. The handlers are plain
functions, which Starlette runs in its thread pool: a database call never
blocks the event loop. Forms post back and redirect (post/redirect/get), so
approving, assigning, invoking and cancelling work without JavaScript;
encrypting and decrypting files happen in the browser (``static/console.js``).
"""

from __future__ import annotations

import posixpath
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from functools import lru_cache
from importlib.resources import files
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, FastAPI, Form, Request, UploadFile
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from pydantic import ValidationError
from starlette.concurrency import run_in_threadpool

from teabox.abi.check import inspect
from teabox.platform.blobs import BlobStore
from teabox.platform.context import Actor
from teabox.platform.core import Platform
from teabox.platform.errors import MalformedRequest, NotAuthenticated, PlatformError, RetryLater, TooManyRequests
from teabox.platform.hosted import parse_hosted_url
from teabox.platform.states import ENDED, TaskStatus
from teabox.service.blob_responses import blob_download
from teabox.service.call_audit import client_address
from teabox.service.console import session
from teabox.service.console.headers import ConsoleRequests
from teabox.service.login_guard import LoginGuard
from teabox.service.schemas import ENDPOINTS, params_of

PREFIX = "/console"
_HERE = Path(str(files("teabox.service.console")))
_RUNNING = frozenset({TaskStatus.STAGED, TaskStatus.RUNNING})
_FORM_BYTES = 64 * 1024


@dataclass
class _Signed:
    """The signed-in user of one request."""

    actor: Actor
    token: str

    @property
    def csrf(self) -> str:
        return session.csrf_token(self.token)


class _SignIn(Exception):
    """No valid session: send the browser to the sign-in page."""


def mount_console(app: FastAPI, platform: Platform, guard: LoginGuard) -> None:
    """Serve the console under ``/console`` of ``app``; sign-ins count against ``guard``'s limits like API logins."""
    app.add_middleware(
        ConsoleRequests,
        prefix=PREFIX,
        form_bytes=_FORM_BYTES,
        larger={f"{PREFIX}/functions/check": platform.settings.max_payload_bytes + _FORM_BYTES},
        streamed=frozenset({f"{PREFIX}/files/upload"}),
    )
    app.mount(f"{PREFIX}/static", StaticFiles(directory=_HERE / "static"), name="console-static")
    app.include_router(_router(platform, guard, Jinja2Templates(directory=_HERE / "templates")))

    @app.exception_handler(_SignIn)
    async def _sign_in(request: Request, _exc: _SignIn) -> Response:
        response = RedirectResponse(f"{PREFIX}/login?{urlencode({'next': request.url.path})}", status_code=303)
        session.end_session(response)
        return response


def _router(platform: Platform, guard: LoginGuard, templates: Jinja2Templates) -> APIRouter:
    router = APIRouter(prefix=PREFIX, include_in_schema=False)
    max_age = int(platform.settings.token_ttl_seconds)

    def signed(request: Request) -> _Signed:
        token = session.session_token(request)
        if token is None:
            raise _SignIn
        try:
            return _Signed(platform.authenticate(token), token)
        except NotAuthenticated:
            raise _SignIn from None

    def call(who: _Signed, operation: str, /, **params: Any) -> dict[str, Any]:
        return platform.call(operation, who.actor, _validated(operation, params))

    def page(request: Request, who: _Signed | None, template: str, status: int = 200, **context: Any) -> Response:
        return templates.TemplateResponse(
            request,
            template,
            {"me": who.actor if who else None, "csrf": who.csrf if who else "", **context},
            status_code=status,
        )

    def acting(request: Request, csrf: str, action: Callable[[_Signed], str]) -> Response:
        """Run a form's action and redirect to the page it names, or show the refusal in place."""
        who = signed(request)
        try:
            session.check_csrf(who.token, csrf)
            return RedirectResponse(action(who), status_code=303)
        except PlatformError as exc:
            return refused(request, who, exc)

    def refused(request: Request, who: _Signed | None, exc: PlatformError) -> Response:
        if exc.code == "password_change_required":  # a manager chose this user's password: replace it first
            return RedirectResponse(f"{PREFIX}/password?required=1", status_code=303)
        return page(request, who, "refused.html", status=exc.status, error=exc)

    def showing(request: Request, template: str, load: Callable[[_Signed], dict[str, Any]]) -> Response:
        """A page of what ``load`` reads for the signed-in user, or the refusal of that read."""
        who = signed(request)
        try:
            context = load(who)
        except PlatformError as exc:
            return refused(request, who, exc)
        return page(request, who, template, **context)

    # -- signing in and out ----------------------------------------------------------------

    @router.get("/login", response_class=HTMLResponse)
    def login_page(request: Request, next: str = PREFIX + "/") -> Response:
        return page(request, None, "login.html", next=_local(next))

    @router.post("/login")
    def login(
        request: Request, user_id: str = Form(), password: str = Form(), next: str = Form(PREFIX + "/")
    ) -> Response:
        """The API's login, under the same failed-login limits per user id and per address."""
        address = client_address(request.scope)
        try:
            guard.check(user_id, address)
            try:
                credentials = _validated("user_login", {"user_id": user_id, "password": password})
                token = platform.call("user_login", None, credentials)["token"]
            except PlatformError as exc:
                if exc.code == "invalid_credentials":
                    guard.failed(user_id, address)
                raise
            guard.succeeded(user_id)
        except PlatformError as exc:
            if isinstance(exc, TooManyRequests):
                platform.audit(time.time(), user_id, "user_login", user_id, exc.code, exc.message)
            response = page(
                request, None, "login.html", status=exc.status, error=exc, next=_local(next), user_id=user_id
            )
            if isinstance(exc, RetryLater):
                response.headers["Retry-After"] = str(exc.retry_after)
            return response
        response = RedirectResponse(_local(next), status_code=303)
        session.start_session(request, response, token, max_age)
        return response

    @router.post("/logout")
    def logout(request: Request, csrf: str = Form("")) -> Response:
        who = signed(request)
        session.check_csrf(who.token, csrf)
        call(who, "user_logout")
        response = RedirectResponse(f"{PREFIX}/login", status_code=303)
        session.end_session(response)
        return response

    @router.get("/password", response_class=HTMLResponse)
    def password_page(request: Request, done: str = "", required: str = "") -> Response:
        return page(request, signed(request), "password.html", done=done, required=required)

    @router.post("/password")
    def change_password(request: Request, password: str = Form(), csrf: str = Form("")) -> Response:
        return acting(
            request,
            csrf,
            lambda who: _then(call(who, "user_change_password", password=password), f"{PREFIX}/password?done=1"),
        )

    # -- home and tasks --------------------------------------------------------------------

    @router.get("/", response_class=HTMLResponse)
    def home(request: Request) -> Response:
        who = signed(request)
        if who.actor.role.is_admin:
            return RedirectResponse(f"{PREFIX}/admin/users", status_code=303)
        return RedirectResponse(f"{PREFIX}/tasks", status_code=303)

    @router.get("/tasks", response_class=HTMLResponse)
    def tasks_page(request: Request) -> Response:
        def load(who: _Signed) -> dict[str, Any]:
            tasks = [
                call(who, "get_task", task_id=task_id) for task_id in reversed(call(who, "list_tasks")["task_ids"])
            ]
            return {"groups": _group_tasks(tasks, who.actor.user_id)}

        return showing(request, "tasks.html", load)

    @router.post("/tasks")
    def create_task(
        request: Request,
        function_id: str = Form(),
        arguments: str = Form(""),
        input_owners: str = Form(""),
        output_owners: str = Form(""),
        csrf: str = Form(""),
    ) -> Response:
        def create(who: _Signed) -> str:
            task_id = call(
                who,
                "create_task",
                function_id=function_id.strip(),
                function_arguments=dict(_pairs(arguments, "argument")),
                executor="wamr",
                inputs_ownership=[{"data_name": name, "uids": _names(uids)} for name, uids in _pairs(input_owners)],
                outputs_ownership=[{"data_name": name, "uids": _names(uids)} for name, uids in _pairs(output_owners)],
            )["task_id"]
            return f"{PREFIX}/tasks/{task_id}"

        return acting(request, csrf, create)

    @router.get("/tasks/{task_id}", response_class=HTMLResponse)
    def task_page(request: Request, task_id: str) -> Response:
        who = signed(request)
        try:
            task = call(who, "get_task", task_id=task_id)
            function = call(who, "get_function", function_id=task["function_id"])
            mine = _my_files(call(who, "list_files")) if not _is_function_owner(who) else {}
        except PlatformError as exc:
            return refused(request, who, exc)
        report = _payload_report(platform.blobs, task["payload_sha256"])
        return page(
            request,
            who,
            "task.html",
            task=task,
            function=function,
            report=report,
            data=_task_data(task, who.actor.user_id),
            mine=mine,
            approved=who.actor.user_id in task["approved_users"],
            ended=TaskStatus(task["status"]) in ENDED,
        )

    @router.get("/tasks/{task_id}/state")
    def task_state(request: Request, task_id: str) -> JSONResponse:
        who = signed(request)
        try:
            task = call(who, "get_task", task_id=task_id)
        except PlatformError as exc:
            return JSONResponse({"error": {"code": exc.code, "message": exc.message}}, status_code=exc.status)
        return JSONResponse(
            {"status": task["status"], "ended": TaskStatus(task["status"]) in ENDED, "updated_at": task["updated_at"]}
        )

    @router.post("/tasks/{task_id}/assign")
    async def assign(request: Request, task_id: str) -> Response:
        form = await request.form()
        inputs = [_data_map(key, value) for key, value in form.multi_items() if key.startswith("input:") and value]
        outputs = [_data_map(key, value) for key, value in form.multi_items() if key.startswith("output:") and value]
        return await run_in_threadpool(
            acting,
            request,
            str(form.get(session.CSRF_FIELD, "")),
            lambda who: _then(
                call(who, "assign_data_to_task", task_id=task_id, inputs=inputs, outputs=outputs),
                f"{PREFIX}/tasks/{task_id}",
            ),
        )

    for action in ("approve_task", "invoke_task", "cancel_task"):
        router.post(f"/tasks/{{task_id}}/{action.removesuffix('_task')}")(_task_action(action, acting, call))

    # -- files -----------------------------------------------------------------------------

    @router.get("/files", response_class=HTMLResponse)
    def files_page(request: Request) -> Response:
        return showing(request, "files.html", lambda who: call(who, "list_files"))

    @router.post("/files/upload")
    async def upload(request: Request, name: str) -> JSONResponse:
        """Store ciphertext that the page encrypted; the plaintext never reaches the server."""
        who = await run_in_threadpool(signed, request)
        session.check_csrf(who.token, request.headers.get(session.CSRF_HEADER))
        limit = platform.settings.max_upload_bytes
        with platform.blobs.writer(limit) as writer:
            async for chunk in request.stream():
                await run_in_threadpool(writer.write, chunk)
            sha256, size = await run_in_threadpool(writer.commit), writer.size
        answer = await run_in_threadpool(call, who, "upload_file", name=name, sha256=sha256, size=size)
        return JSONResponse(answer)

    @router.post("/files/register-input")
    def register_input(request: Request, body: dict[str, str]) -> JSONResponse:
        who = signed(request)
        session.check_csrf(who.token, request.headers.get(session.CSRF_HEADER))
        params = {"url": body.get("url", ""), "schema": "aes-gcm-128"}
        params |= {field: _hex(body, field) for field in ("key", "iv", "cmac")}
        return JSONResponse(call(who, "register_input_file", **params))

    @router.post("/files/new-output")
    def new_output(request: Request, body: dict[str, str]) -> JSONResponse:
        who = signed(request)
        session.check_csrf(who.token, request.headers.get(session.CSRF_HEADER))
        reserved = call(who, "reserve_file", name=body.get("name", ""))
        registered = call(
            who,
            "register_output_file",
            url=reserved["url"],
            schema="aes-gcm-128",
            key=_hex(body, "key"),
            iv=_hex(body, "iv"),
        )
        return JSONResponse({"data_id": registered["data_id"], "url": reserved["url"]})

    @router.get("/files/{data_id}/ciphertext")
    def ciphertext(request: Request, data_id: str) -> Response:
        who = signed(request)
        try:
            record = call(who, "get_output_file", data_id=data_id)
            found = call(who, "download_file", url=record["url"])
        except PlatformError as exc:
            return refused(request, who, exc)
        name = parse_hosted_url(record["url"]).name
        return blob_download(platform.blobs, found["sha256"], name)

    # -- functions -------------------------------------------------------------------------

    @router.get("/functions", response_class=HTMLResponse)
    def functions_page(request: Request) -> Response:
        def load(who: _Signed) -> dict[str, Any]:
            ids = call(who, "list_functions")["registered_functions"]
            usage = "get_function_usage_stats"
            return {
                "functions": [
                    (call(who, "get_function", function_id=fid), call(who, usage, function_id=fid)) for fid in ids
                ]
            }

        return showing(request, "functions.html", load)

    @router.post("/functions/check", response_class=HTMLResponse)
    def check_function(
        request: Request,
        payload: UploadFile,
        form: Annotated[_FunctionForm, Depends(_function_form)],
        csrf: str = Form(""),
    ) -> Response:
        """Store the module and show what the ABI check found, before anything is registered."""
        who = signed(request)
        try:
            session.check_csrf(who.token, csrf)
            sha256, size = platform.blobs.put(payload.file, platform.settings.max_payload_bytes)
            call(who, "upload_payload", payload_id=sha256, size=size)
        except PlatformError as exc:
            return refused(request, who, exc)
        report = inspect(platform.blobs.read(sha256))
        return page(request, who, "function_check.html", report=report, form=asdict(form))

    @router.post("/functions/register")
    def register_function(
        request: Request,
        form: Annotated[_FunctionForm, Depends(_function_form)],
        payload_id: str = Form(),
        csrf: str = Form(""),
    ) -> Response:
        fields = {
            "name": form.name,
            "description": form.description,
            "executor_type": "wamr",
            "public": form.public,
            "payload_id": payload_id,
            "arguments": [{"key": key} for key in _names(form.arguments)],
            "inputs": [{"name": data} for data in _names(form.inputs)],
            "outputs": [{"name": data} for data in _names(form.outputs)],
        }
        return acting(
            request, csrf, lambda who: f"{PREFIX}/functions#" + call(who, "register_function", **fields)["function_id"]
        )

    @router.post("/functions/{function_id}/disable")
    def disable_function(request: Request, function_id: str, csrf: str = Form("")) -> Response:
        return acting(
            request,
            csrf,
            lambda who: _then(call(who, "disable_function", function_id=function_id), f"{PREFIX}/functions"),
        )

    @router.post("/functions/{function_id}/describe")
    def describe_function(
        request: Request, function_id: str, description: str = Form(""), csrf: str = Form("")
    ) -> Response:
        def update(who: _Signed) -> str:
            current = call(who, "get_function", function_id=function_id)
            fields = {
                key: current[key] for key in ("name", "executor_type", "public", "arguments", "inputs", "outputs")
            }
            fields |= {"description": description, "payload_id": current.get("payload_id")}
            fields["user_allowlist"] = current.get("user_allowlist", [])
            call(who, "update_function", function_id=function_id, usage_quota=current["usage_quota"], **fields)
            return f"{PREFIX}/functions"

        return acting(request, csrf, update)

    # -- administration --------------------------------------------------------------------

    @router.get("/admin/users", response_class=HTMLResponse)
    def users_page(request: Request) -> Response:
        return showing(request, "users.html", lambda who: {"ids": call(who, "list_users")["ids"]})

    @router.post("/admin/users")
    def register_user(
        request: Request,
        user_id: str = Form(),
        password: str = Form(),
        role: str = Form(),
        attribute: str = Form(""),
        csrf: str = Form(""),
    ) -> Response:
        params = {"user_id": user_id, "password": password, "role": role, "attribute": attribute}
        return acting(request, csrf, lambda who: _then(call(who, "user_register", **params), f"{PREFIX}/admin/users"))

    @router.post("/admin/users/{user_id}/delete")
    def delete_user(request: Request, user_id: str, csrf: str = Form("")) -> Response:
        return acting(
            request, csrf, lambda who: _then(call(who, "delete_user", user_id=user_id), f"{PREFIX}/admin/users")
        )

    @router.get("/admin/audit", response_class=HTMLResponse)
    def audit_page(
        request: Request, message: str = "", user_id: str = "", action: str = "", limit: int = 50
    ) -> Response:
        filters = {"message": message, "user_id": user_id or None, "action": action or None, "limit": limit}
        more = urlencode({"message": message, "user_id": user_id, "action": action, "limit": limit * 2})

        def load(who: _Signed) -> dict[str, Any]:
            logs = call(who, "query_audit_logs", **filters)["logs"]
            return {"logs": logs, "filters": filters, "more": more if len(logs) == limit else ""}

        return showing(request, "audit.html", load)

    @router.get("/admin/queue", response_class=HTMLResponse)
    def queue_page(request: Request) -> Response:
        return showing(request, "queue.html", lambda who: {"stats": call(who, "get_queue_stats")})

    return router


def _task_action(
    name: str, acting: Callable[[Request, str, Callable[[_Signed], str]], Response], call: Callable[..., Any]
) -> Callable[..., Response]:
    def action(request: Request, task_id: str, csrf: str = Form("")) -> Response:
        return acting(request, csrf, lambda who: _then(call(who, name, task_id=task_id), f"{PREFIX}/tasks/{task_id}"))

    action.__name__ = name
    return action


def _then(_done: object, location: str) -> str:
    return location


def _local(target: str) -> str:
    """Only a path of the console itself may follow sign-in: never another site (an open redirect)."""
    normal = posixpath.normpath(target) if target.startswith("/") and not target.startswith("//") else ""
    if "\\" in target or target not in (normal, normal + "/") or not (normal + "/").startswith(PREFIX + "/"):
        return PREFIX + "/"
    return target


def _names(text: str) -> list[str]:
    return [name.strip() for name in text.replace("\n", ",").split(",") if name.strip()]


def _validated(operation: str, params: dict[str, Any]) -> dict[str, Any]:
    """The parameters as the API's own request model for ``operation`` checks and converts them."""
    model = ENDPOINTS.get(operation)
    if model is None:
        return params
    try:
        return params_of(model.model_validate(params))
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc'])) or 'form'}: {e['msg']}" for e in exc.errors())
        raise MalformedRequest(f"invalid {operation}: {problems}", "invalid_request") from None


def _pairs(text: str, what: str = "owner line") -> list[tuple[str, str]]:
    """``name=value`` lines (blank lines skipped); a line without ``=`` is refused by name."""
    pairs = []
    for line in text.splitlines():
        if not line.strip():
            continue
        name, equals, value = line.partition("=")
        if not equals or not name.strip():
            raise MalformedRequest(f"the {what} '{line.strip()}' is not of the form name=value", "invalid_request")
        pairs.append((name.strip(), value.strip()))
    return pairs


def _hex(body: dict[str, str], field: str) -> str:
    value = body.get(field)
    if not isinstance(value, str):
        raise MalformedRequest(f"the request has no {field}", "invalid_request")
    return value


def _data_map(key: str, value: object) -> dict[str, str]:
    return {"data_name": key.split(":", 1)[1], "data_id": str(value)}


def _is_function_owner(who: _Signed) -> bool:
    return who.actor.role.kind.value == "FunctionOwner"


def _group_tasks(tasks: list[dict[str, Any]], me: str) -> list[tuple[str, list[dict[str, Any]]]]:
    groups: dict[str, list[dict[str, Any]]] = {
        "Waiting for my approval": [],
        "Waiting for others": [],
        "Running": [],
        "Finished": [],
        "Failed or canceled": [],
    }
    for task in tasks:
        status = TaskStatus(task["status"])
        if status is TaskStatus.FINISHED:
            groups["Finished"].append(task)
        elif status in ENDED:
            groups["Failed or canceled"].append(task)
        elif status in _RUNNING:
            groups["Running"].append(task)
        elif me in task["participants"] and me not in task["approved_users"]:
            groups["Waiting for my approval"].append(task)
        else:
            groups["Waiting for others"].append(task)
    return list(groups.items())


@dataclass(frozen=True)
class _FunctionForm:
    """A function as the registration form describes it (names comma separated), for both of its steps."""

    name: str
    description: str
    inputs: str
    outputs: str
    arguments: str
    public: bool


def _function_form(
    name: str = Form(),
    description: str = Form(""),
    inputs: str = Form(""),
    outputs: str = Form(""),
    arguments: str = Form(""),
    public: bool = Form(False),
) -> _FunctionForm:
    return _FunctionForm(name, description, inputs, outputs, arguments, public)


@dataclass
class _Data:
    """One input or output of a task, as the approval page lists it."""

    direction: str
    name: str
    owners: list[str]
    assigned: str | None
    mine: bool


def _task_data(task: dict[str, Any], me: str) -> list[_Data]:
    rows = []
    for direction in ("input", "output"):
        assigned = {item["data_name"]: item["data_id"] for item in task[f"assigned_{direction}s"]}
        for item in task[f"{direction}s_ownership"]:
            rows.append(
                _Data(direction, item["data_name"], item["uids"], assigned.get(item["data_name"]), me in item["uids"])
            )
    return rows


def _my_files(listed: dict[str, list[dict[str, Any]]]) -> dict[str, list[dict[str, Any]]]:
    return {"input": listed["inputs"], "output": listed["outputs"]}


@lru_cache(maxsize=128)
def _payload_report(blobs: BlobStore, sha256: str) -> dict[str, Any] | None:
    """The ABI check of the payload the participants approve (None if its blob is not on this server)."""
    if not blobs.exists(sha256):
        return None
    return inspect(blobs.read(sha256)).to_dict()
