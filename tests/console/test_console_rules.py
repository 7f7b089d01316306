"""The console's own guards, over plain HTTP against a real server: sessions, CSRF, redirects, refusals.

What a signed-in user may do is the platform's rules (tested with the API);
these tests check what the console adds in front of them.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from contextlib import ExitStack

import httpx
import pytest

from teabox.client import Client
from teabox.demo.flows import new_user
from teabox.service.console.session import csrf_token
from teabox.testing.local_server import LocalServer

_PASSWORD = "a-console-password"


def _signed_in(
    closer: ExitStack, server: LocalServer, admin: Client, role: str = "DataOwner", attribute: str = "east"
) -> httpx.Client:
    """A browser signed in as a fresh user, closed by ``closer`` when the test ends."""
    with new_user(admin, "web", role, attribute if role == "DataOwner" else "") as user:
        user.user_change_password(_PASSWORD)
    browser = closer.enter_context(httpx.Client(base_url=server.url))
    answer = browser.post("/console/login", data={"user_id": user.user_id, "password": _PASSWORD})
    assert answer.status_code == 303
    return browser


def _csrf(browser: httpx.Client) -> str:
    return csrf_token(browser.cookies["teabox_session"])


@pytest.mark.parametrize("path", ["/console/tasks", "/console/files", "/console/functions", "/console/admin/audit"])
def test_pages_send_a_stranger_to_sign_in(platform_server: LocalServer, path: str) -> None:
    answer = httpx.get(platform_server.url + path)
    assert answer.status_code == 303
    assert answer.headers["location"] == f"/console/login?next={path.replace('/', '%2F')}"


def test_a_forged_or_stale_cookie_is_a_stranger(platform_server: LocalServer) -> None:
    answer = httpx.get(platform_server.url + "/console/tasks", cookies={"teabox_session": "not-a-token"})
    assert answer.status_code == 303 and answer.headers["location"].startswith("/console/login")


def test_a_wrong_password_is_shown_on_the_sign_in_page(platform_server: LocalServer) -> None:
    answer = httpx.post(platform_server.url + "/console/login", data={"user_id": "nobody", "password": "x" * 12})
    assert answer.status_code == 401
    assert 'id="error"' in answer.text and "teabox_session" not in answer.headers.get("set-cookie", "")


def test_sign_in_never_redirects_off_the_console(platform_server: LocalServer, admin_client: Client) -> None:
    with new_user(admin_client, "redirected", "DataOwner", "east") as user:
        user.user_change_password(_PASSWORD)
    for target in (
        "https://evil.example/",
        "//evil.example/console/",
        "/api/v1/health",
        "/console/../api",
        "/consolex",
    ):
        answer = httpx.post(
            platform_server.url + "/console/login",
            data={"user_id": user.user_id, "password": _PASSWORD, "next": target},
        )
        assert answer.headers["location"] == "/console/", target
    answer = httpx.post(
        platform_server.url + "/console/login",
        data={"user_id": user.user_id, "password": _PASSWORD, "next": "/console/files"},
    )
    assert answer.headers["location"] == "/console/files"


@pytest.mark.parametrize(
    ("path", "form"),
    [
        ("/console/tasks", {"function_id": "function-x"}),
        ("/console/tasks/task-x/approve", {}),
        ("/console/tasks/task-x/invoke", {}),
        ("/console/tasks/task-x/cancel", {}),
        ("/console/tasks/task-x/assign", {"input:a": "input-x"}),
        ("/console/password", {"password": "another-password"}),
        ("/console/logout", {}),
    ],
)
def test_state_changing_forms_need_the_sessions_csrf_token(
    platform_server: LocalServer, admin_client: Client, path: str, form: dict[str, str], closer: ExitStack
) -> None:
    browser = _signed_in(closer, platform_server, admin_client)
    for token in (None, "0" * 64, csrf_token("somebody-elses-session")):
        answer = browser.post(path, data={**form, **({"csrf": token} if token else {})})
        assert answer.status_code == 403, (path, token, answer.text[:200])
        assert "csrf" in answer.text
    # The session still works: nothing was signed out or changed.
    assert browser.get("/console/tasks").status_code == 200


@pytest.mark.parametrize("path", ["/console/files/upload?name=x.enc", "/console/files/register-input"])
def test_script_calls_need_the_csrf_header(
    platform_server: LocalServer, admin_client: Client, path: str, closer: ExitStack
) -> None:
    browser = _signed_in(closer, platform_server, admin_client)
    answer = browser.post(path, content=b"{}", headers={"content-type": "application/json"})
    assert answer.status_code == 403
    assert answer.json()["error"]["code"] == "csrf"


def test_bad_crypto_fields_are_refused_by_name(
    platform_server: LocalServer, admin_client: Client, closer: ExitStack
) -> None:
    browser = _signed_in(closer, platform_server, admin_client)
    headers = {"x-csrf-token": _csrf(browser)}
    answer = browser.post(
        "/console/files/register-input",
        json={"url": "teabox://files/0/x.enc", "key": "zz", "iv": "00", "cmac": "00"},
        headers=headers,
    )
    assert answer.status_code == 400 and "key" in answer.json()["error"]["message"]
    answer = browser.post("/console/files/new-output", json={"name": "x.enc", "iv": "00" * 12}, headers=headers)
    assert answer.status_code == 400 and "key" in answer.json()["error"]["message"]


def test_an_owner_line_without_equals_is_named(
    platform_server: LocalServer, admin_client: Client, closer: ExitStack
) -> None:
    browser = _signed_in(closer, platform_server, admin_client)
    answer = browser.post(
        "/console/tasks", data={"function_id": "f", "input_owners": "pf_in_a alice", "csrf": _csrf(browser)}
    )
    assert answer.status_code == 400 and "pf_in_a alice" in answer.text


def test_roles_still_apply_to_console_pages(
    platform_server: LocalServer, admin_client: Client, closer: ExitStack
) -> None:
    owner = _signed_in(closer, platform_server, admin_client)
    for path in ("/console/admin/users", "/console/admin/audit", "/console/admin/queue"):
        answer = owner.get(path)
        assert answer.status_code == 403 and re.search(r"may not (call|list)", answer.text), path


def test_console_actions_are_audited_like_api_calls(
    platform_server: LocalServer, admin_client: Client, closer: ExitStack
) -> None:
    browser = _signed_in(closer, platform_server, admin_client)
    browser.post("/console/tasks/task-missing/approve", data={"csrf": _csrf(browser)})
    logs = admin_client.query_audit_logs(message="task-missing", limit=5)
    assert any(entry.action == "approve_task" and entry.outcome == "unknown_task" for entry in logs)


def test_the_admin_sees_the_queue_figures(platform_server: LocalServer, admin_client: Client) -> None:
    stats = admin_client.get_queue_stats()
    assert set(stats["tasks_by_status"]) == {
        "Created",
        "DataAssigned",
        "Approved",
        "Staged",
        "Running",
        "Finished",
        "Canceled",
        "Failed",
    }
    assert stats["queue_depth"] == stats["tasks_by_status"]["Staged"]


def test_list_files_shows_only_the_callers_own(
    platform_server: LocalServer, admin_client: Client, tmp_path, closer: ExitStack
) -> None:
    dora = closer.enter_context(new_user(admin_client, "dora", "DataOwner", "east"))
    eve = closer.enter_context(new_user(admin_client, "eve", "DataOwner", "east"))
    (tmp_path / "d.txt").write_text("dora's data")
    mine = dora.register_local_input(tmp_path / "d.txt")
    out = dora.register_hosted_output("d-out.enc")
    inputs, outputs = dora.list_files()
    assert [f.data_id for f in inputs] == [mine.data_id] and [f.data_id for f in outputs] == [out.data_id]
    assert eve.list_files() == ([], [])


def test_console_sign_ins_count_against_the_login_limits(start_platform_server: Callable[..., LocalServer]) -> None:
    server = start_platform_server(workers=0, extra_args=("--login-failures-per-user", "2"))
    for _ in range(2):
        answer = httpx.post(server.url + "/console/login", data={"user_id": server.admin_id, "password": "wrong-1234"})
        assert answer.status_code == 401
    answer = httpx.post(
        server.url + "/console/login", data={"user_id": server.admin_id, "password": server.admin_password}
    )
    assert answer.status_code == 429 and int(answer.headers["retry-after"]) >= 1
    assert "too many failed logins" in answer.text and "teabox_session" not in answer.headers.get("set-cookie", "")


def test_a_form_larger_than_its_limit_is_refused_unread(
    platform_server: LocalServer, admin_client: Client, closer: ExitStack
) -> None:
    browser = _signed_in(closer, platform_server, admin_client)
    answer = browser.post("/console/tasks", data={"function_id": "f" * (128 * 1024), "csrf": _csrf(browser)})
    assert answer.status_code == 413 and answer.json()["error"]["code"] == "too_large"
