"""One HTTP connection to a teabox server, and the mapping of its errors.

Every SDK method is ``POST /api/v1/<method>`` with a JSON object; this module
is the only place that knows it, so the methods in :mod:`teabox.client.client`
read as plain calls. Refusals become the typed exceptions of
:mod:`teabox.client.errors`, with the server's code and message intact.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any, cast
from urllib.parse import urljoin, urlsplit

import httpx

from teabox import config
from teabox.client.errors import ApiError, ConnectionFailed, error_for_status

API_PREFIX = "/api/v1/"
DEFAULT_TIMEOUT = 30.0
# The code and the sentence of an S3 error document (<Error><Code>AccessDenied</Code><Message>...).
_STORE_ERROR = re.compile(r"<(?:Code|Message)>([^<]{1,300})</(?:Code|Message)>")

Address = str | tuple[str, int]
# What ``http=`` accepts: a ready ``httpx.Client`` (the caller's to close), or a transport to send through
# (an in-process ASGI app, a mock-free test server, a proxy): the client built on it is closed with ours.
Http = httpx.Client | httpx.BaseTransport


def base_url(address: Address | None) -> str:
    """Normalise a server address: a URL, a ``(host, port)`` pair as Teaclave's
    scripts pass, or None for ``$TEABOX_URL`` (then the local default)."""
    if address is None:
        address = config.URL.get() or config.DEFAULT_URL
    if isinstance(address, tuple):
        host, port = address
        return f"http://{host}:{port}"
    if "://" not in address:
        address = f"http://{address}"
    return address.rstrip("/")


def _refusal(response: httpx.Response, method: str) -> ApiError:
    """Build the typed exception for an error response, even one that is not JSON."""
    code, message, details = "http_error", "", None
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, dict) and isinstance(body.get("error"), dict):
        err = body["error"]
        code = str(err.get("code") or code)
        message = str(err.get("message") or "")
        details = {k: v for k, v in err.items() if k not in ("code", "message")} or None
    if not message:
        text = response.text.strip()
        message = text[:500] if text else f"HTTP {response.status_code} {response.reason_phrase}"
    return error_for_status(response.status_code)(
        message, code=code, status=response.status_code, method=method, details=details
    )


class Transport:
    """An ``httpx.Client`` bound to one server and (once logged in) one token.

    Requests carry absolute URLs built from ``address``, so a given
    ``httpx.Client`` needs no ``base_url`` of its own and one client can serve
    several sessions (the token travels per request, never in the client).
    """

    def __init__(
        self,
        address: Address | None = None,
        *,
        token: str | None = None,
        timeout: float = DEFAULT_TIMEOUT,
        http: Http | None = None,
    ) -> None:
        self.url = base_url(address)
        self.token = token
        self.timeout = timeout
        self._owns_http = not isinstance(http, httpx.Client)
        if isinstance(http, httpx.Client):
            self._http = http
        elif http is None or isinstance(http, httpx.BaseTransport):
            self._http = httpx.Client(timeout=timeout, transport=http)
        else:
            raise TypeError(f"http must be an httpx.Client or an httpx transport, not {type(http).__name__}")

    def close(self) -> None:
        """Close the connections this object opened; an ``httpx.Client`` the caller passed stays open."""
        if self._owns_http:
            self._http.close()

    def _headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"} if self.token else {}

    def _send(self, method: str, request: httpx.Request, *, stream: bool = False) -> httpx.Response:
        try:
            response = self._http.send(request, stream=stream)
        except httpx.TimeoutException as exc:
            raise ConnectionFailed(f"{method}: no answer from {self.url} in time ({exc})") from exc
        except httpx.TransportError as exc:
            raise ConnectionFailed(f"{method}: cannot reach the teabox server at {self.url} ({exc})") from exc
        if response.status_code >= 400:
            if stream:
                response.read()
                response.close()
            raise _refusal(response, method)
        return response

    def call(self, method: str, body: dict[str, Any] | None = None, *, timeout: float | None = None) -> dict[str, Any]:
        """POST one RPC and return its JSON object."""
        request = self._http.build_request(
            "POST",
            self.url + API_PREFIX + method,
            json=body or {},
            headers=self._headers(),
            timeout=timeout if timeout is not None else self.timeout,
        )
        response = self._send(method, request)
        try:
            answer = response.json()
        except ValueError:
            raise ApiError(
                f"the server answered {method} with something that is not JSON",
                code="bad_response",
                status=response.status_code,
                method=method,
            ) from None
        if not isinstance(answer, dict):
            raise ApiError(
                f"the server answered {method} with {type(answer).__name__}, not an object",
                code="bad_response",
                status=response.status_code,
                method=method,
            )
        return answer

    def upload(
        self,
        method: str,
        chunks: Iterable[bytes],
        *,
        size: int | None,
        params: dict[str, str] | None = None,
        caller: str | None = None,
    ) -> dict[str, Any]:
        """POST a raw body streamed from ``chunks``; the answer is a JSON object.

        ``caller`` is the SDK call the user made when it is not ``method``
        (``register_function`` uploads its payload first): errors name it.
        """
        headers = {**self._headers(), "Content-Type": "application/octet-stream"}
        if size is not None:
            headers["Content-Length"] = str(size)
        request = self._http.build_request(
            "POST",
            self.url + API_PREFIX + method,
            params=params,
            content=chunks,
            headers=headers,
            timeout=httpx.Timeout(self.timeout, write=None),
        )
        response = self._send(caller or method, request)
        return cast(dict[str, Any], response.json())  # every upload answers with a JSON object

    @contextmanager
    def download(self, method: str, params: dict[str, str]) -> Iterator[httpx.Response]:
        """GET a raw body as a streaming response (read it with ``iter_bytes``)."""
        request = self._http.build_request(
            "GET",
            self.url + API_PREFIX + method,
            params=params,
            headers=self._headers(),
            timeout=self.timeout,
        )
        response = self._send(method, request, stream=True)
        if response.status_code == 307 and "location" in response.headers:
            response.close()
            response = self._presigned(method, urljoin(str(response.url), response.headers["location"]))
        try:
            yield response
        finally:
            response.close()

    def _presigned(self, method: str, location: str) -> httpx.Response:
        """GET the object store's presigned URL a download was redirected to (``--presign-downloads``).

        Sent without the token: the URL is its own credential, and the store is not teabox. A store's
        refusal (an expired URL, a missing object) is an ApiError quoting the store's code and message.
        """
        parts = urlsplit(location)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ApiError(
                f"the server redirected the download to {location[:200]!r}, which is no http(s) URL",
                code="bad_response",
                status=307,
                method=method,
            )
        store = f"{parts.scheme}://{parts.netloc}"
        request = self._http.build_request("GET", location, timeout=self.timeout)
        try:
            response = self._http.send(request, stream=True)
        except httpx.TimeoutException as exc:
            raise ConnectionFailed(f"{method}: no answer from the object store at {store} in time ({exc})") from exc
        except httpx.TransportError as exc:
            raise ConnectionFailed(
                f"{method}: the server sent the download to the object store at {store}, which cannot be reached "
                f"from here ({exc}); its operator may set --s3-public-endpoint, or stream downloads"
            ) from exc
        if response.status_code >= 300:
            text = response.read().decode(errors="replace")
            response.close()
            said = " ".join(found.group(1) for found in _STORE_ERROR.finditer(text)) or text.strip()[:200]
            raise error_for_status(response.status_code)(
                f"the object store at {store} refused the download the server sent it to: {said}",
                code="download_refused_by_store",
                status=response.status_code,
                method=method,
            )
        return response

    def get(self, path: str) -> dict[str, Any]:
        """A plain GET of a JSON document (health, OpenAPI)."""
        request = self._http.build_request("GET", self.url + path, headers=self._headers(), timeout=self.timeout)
        return cast(dict[str, Any], self._send(path, request).json())  # health and OpenAPI are JSON objects
