"""``Client(..., http=...)``: the SDK sends through a caller's ``httpx.Client`` or an httpx transport,
here into the service's app in this process."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from support.in_process import URL, InProcessPlatform, open_app

from teabox.client import Client
from teabox.client.errors import ConnectionFailed, Unauthenticated


@pytest.fixture(scope="module")
def platform_app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[InProcessPlatform]:
    with open_app(tmp_path_factory.mktemp("client-http") / "data") as running:
        yield running


def test_a_transport_reaches_the_app_and_the_client_closes_what_it_built(platform_app: InProcessPlatform) -> None:
    with Client(URL, http=platform_app.transport) as client:
        assert client.health()["status"] == "ok"
        token = client.user_login(platform_app.admin_id, platform_app.admin_password)
        assert client.get_current_user().user_id == platform_app.admin_id == client.user_id
        assert token == client.token
    assert client._transport._http.is_closed


def test_a_given_client_carries_each_sessions_token_and_stays_open(platform_app: InProcessPlatform) -> None:
    shared = platform_app.http
    admin = Client(URL, http=shared)
    admin.user_login(platform_app.admin_id, platform_app.admin_password)
    admin.user_register("http-owner", "a long enough password", "FunctionOwner", "")
    owner = Client(URL, http=shared)
    owner.user_login("http-owner", "a long enough password")
    assert (admin.get_current_user().role, owner.get_current_user().role) == ("PlatformAdmin", "FunctionOwner")
    with pytest.raises(Unauthenticated, match="invalid"):
        Client(URL, http=shared).user_login("http-owner", "not the password")
    owner.close()
    assert not shared.is_closed
    assert admin.get_current_user().user_id == platform_app.admin_id


def test_requests_go_to_the_address_not_the_given_clients_base_url(platform_app: InProcessPlatform) -> None:
    seen: list[str] = []
    with httpx.Client(base_url="http://elsewhere.invalid", transport=platform_app.transport) as elsewhere:
        elsewhere.event_hooks["request"].append(lambda request: seen.append(str(request.url)))
        assert Client(URL, http=elsewhere).health()["status"] == "ok"
    assert seen == [f"{URL}/api/v1/health"]


def test_anything_else_is_refused_by_name() -> None:
    with pytest.raises(TypeError, match=r"httpx\.Client or an httpx transport, not str"):
        Client(URL, http="http://127.0.0.1:7777")  # type: ignore[arg-type]


def test_the_default_still_reaches_a_real_socket() -> None:
    with (
        Client("http://127.0.0.1:9") as client,
        pytest.raises(ConnectionFailed, match=r"cannot reach the teabox server at http://127\.0\.0\.1:9"),
    ):
        client.health()
