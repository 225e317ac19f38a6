"""A small typed HTTP client for the Tidings API (Messente Omnichannel API v1 + the sandbox inbox).

It speaks plain JSON: requests are dicts in the wire shape, answers are the server's JSON decoded.
Every failure is one of two exceptions:

- `ApiError`: the server answered with an error status (or with something that is not our JSON);
  `errors` holds the Messente error items, `{"title","detail","code","source"}`.
- `ConnectionProblem`: the server could not be reached at all (refused, DNS, timeout, TLS).
"""

from __future__ import annotations

import json
import uuid
from types import TracebackType
from typing import Any, Self
from urllib.parse import quote

import httpx

__all__ = ["DEFAULT_URL", "ApiError", "ConnectionProblem", "TidingsClient", "normalise_base_url"]

DEFAULT_URL = "http://127.0.0.1:8080"


class ApiError(Exception):
    """An error answer: the HTTP status plus the Messente error items (possibly none)."""

    def __init__(
        self,
        status: int,
        errors: list[dict[str, Any]],
        body: str = "",
        retry_after_s: float | None = None,
    ) -> None:
        self.status = status
        self.errors = errors
        self.body = body
        self.retry_after_s = retry_after_s  # a 429's or 503's Retry-After, when it gave one
        first = errors[0].get("detail") if errors else None
        super().__init__(f"HTTP {status}: {first or body[:200] or 'no details'}")

    @property
    def body_json(self) -> dict[str, Any]:
        """The error as a Messente error document (made up from the status if the body was not)."""
        if self.errors:
            return {"errors": self.errors}
        return {
            "errors": [
                {
                    "title": "HTTP error",
                    "detail": self.body[:500],
                    "code": str(self.status),
                    "source": None,
                }
            ]
        }


class ConnectionProblem(Exception):
    """The server could not be reached, or its answer did not arrive.

    `maybe_sent`: the request may have reached the server (the connection broke or timed out
    after it was written), so whether it acted is unknown: never resend blindly."""

    def __init__(self, url: str, reason: str, maybe_sent: bool = False) -> None:
        self.url = url
        self.reason = reason
        self.maybe_sent = maybe_sent
        super().__init__(f"cannot reach {url}: {reason}")


def normalise_base_url(url: str) -> str:
    """`http://host:8080`, `http://host:8080/` and `http://host:8080/v1` all mean the same server.

    Raises ValueError for anything that is not an http(s) URL with a host.
    """
    url = url.strip()
    try:
        parsed = httpx.URL(url)
    except (httpx.InvalidURL, TypeError) as exc:
        raise ValueError(f"{url!r} is not a URL: {exc}") from None
    if parsed.scheme not in ("http", "https") or not parsed.host:
        raise ValueError(f"{url!r} is not an http:// or https:// URL with a host")
    url = url.rstrip("/")
    if url.endswith("/v1"):
        url = url[: -len("/v1")]
    return url


def _reason(exc: httpx.TransportError) -> str:
    if isinstance(exc, httpx.TimeoutException):
        return f"timed out ({type(exc).__name__})"
    text = str(exc).strip()
    return text or type(exc).__name__


def _error_items(data: Any) -> list[dict[str, Any]]:
    if isinstance(data, dict) and isinstance(data.get("errors"), list):
        return [e for e in data["errors"] if isinstance(e, dict)]
    return []


class TidingsClient:
    """Synchronous client; use as a context manager or call `close()`."""

    def __init__(
        self,
        url: str = DEFAULT_URL,
        username: str = "",
        password: str = "",
        *,
        timeout: float = 10.0,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.url = normalise_base_url(url)
        self._http = httpx.Client(
            base_url=self.url,
            auth=(username, password),
            timeout=timeout,
            headers={"Accept": "application/json", "User-Agent": "tidings-cli"},
            transport=transport,
        )

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()

    # --- the API ---------------------------------------------------------------------------

    def send(self, body: dict[str, Any]) -> dict[str, Any]:
        """POST /v1/omnimessage; answers `{"messages":[...],"to","omnimessage_id"}`."""
        return self._call("POST", "/v1/omnimessage", json_body=body, expect=201)

    def status(self, omnimessage_id: str) -> dict[str, Any]:
        """GET /v1/omnimessage/{id}/status; answers `{"omnimessage_id","to","statuses":[...]}`."""
        return self._call("GET", f"/v1/omnimessage/{_path_id(omnimessage_id)}/status", expect=200)

    def cancel(self, omnimessage_id: str) -> dict[str, Any]:
        """DELETE /v1/omnimessage/{id}; answers `{}` (202), also when already cancelled."""
        return self._call("DELETE", f"/v1/omnimessage/{_path_id(omnimessage_id)}", expect=202)

    def send_bulk(self, body: dict[str, Any]) -> dict[str, Any]:
        """POST /v1/omnimessages (up to 1000 items); answers `{"messages":[...]}`, one entry per
        item in order: the item's send result, or `{"errors":[...]}` for an item refused."""
        return self._call("POST", "/v1/omnimessages", json_body=body, expect=201)

    def inbox(self, to: str | None = None, limit: int = 100) -> dict[str, Any]:
        """GET /v1/sandbox/messages; answers `{"messages":[...]}`, newest first."""
        params: dict[str, str] = {"limit": str(limit)}
        if to is not None:
            params["to"] = to
        return self._call("GET", "/v1/sandbox/messages", params=params, expect=200)

    # --- the scheduling extensions (Tidings only) ---------------------------------------------

    def list_messages(self, params: dict[str, str]) -> dict[str, Any]:
        """GET /v1/omnimessages (state, to, batch, due_from, due_until, limit, cursor); answers
        `{"items":[...],"next_cursor"}`."""
        return self._call("GET", "/v1/omnimessages", params=params, expect=200)

    def inspect(self, omnimessage_id: str) -> dict[str, Any]:
        """GET /v1/omnimessage/{id}: the whole message, with its history."""
        return self._call("GET", f"/v1/omnimessage/{_path_id(omnimessage_id)}", expect=200)

    def reschedule(self, omnimessage_id: str, time_to_send: str) -> dict[str, Any]:
        """PATCH /v1/omnimessage/{id} with a new `time_to_send` (404 once sending started)."""
        path = f"/v1/omnimessage/{_path_id(omnimessage_id)}"
        return self._call("PATCH", path, json_body={"time_to_send": time_to_send}, expect=200)

    def batch(self, tag: str, action: str, skip_missed: bool = False) -> dict[str, Any]:
        """POST /v1/batches/{tag}/{pause|resume|cancel}; answers `{"batch","changed"}`."""
        params = {"skip_missed": "true"} if skip_missed else None
        path = f"/v1/batches/{quote(tag, safe='') or '-'}/{action}"
        return self._call("POST", path, json_body={}, params=params, expect=200)

    def batch_counts(self, tag: str) -> dict[str, Any]:
        """GET /v1/batches/{tag}; answers `{"batch","total","counts":{state: n}}`."""
        return self._call("GET", f"/v1/batches/{quote(tag, safe='') or '-'}", expect=200)

    # --- the Phonebook blacklist ---------------------------------------------------------------

    def blacklist(self) -> dict[str, Any]:
        """GET /v1/phonebook/blacklist; answers `{"phoneNumbers":[...]}`."""
        return self._call("GET", "/v1/phonebook/blacklist", expect=200)

    def blacklist_add(self, phone: str) -> dict[str, Any]:
        """POST /v1/phonebook/blacklist; 204 (409 when already listed)."""
        body = {"phoneNumber": phone}
        return self._call("POST", "/v1/phonebook/blacklist", json_body=body, expect=204)

    def blacklist_remove(self, phone: str) -> dict[str, Any]:
        """DELETE /v1/phonebook/blacklist/{phone}; 204 (404 when not listed)."""
        return self._call("DELETE", _blacklist_path(phone), expect=204)

    def blacklist_check(self, phone: str) -> bool:
        """GET /v1/phonebook/blacklist/{phone}: True when listed (204), False when not (404)."""
        try:
            self._call("GET", _blacklist_path(phone), expect=204)
        except ApiError as exc:
            if exc.status == 404:
                return False
            raise
        return True

    # --- plumbing --------------------------------------------------------------------------

    def _call(
        self,
        method: str,
        path: str,
        *,
        expect: int,
        json_body: Any = None,
        params: dict[str, str] | None = None,
    ) -> dict[str, Any]:
        try:
            resp = self._http.request(method, path, json=json_body, params=params)
        except httpx.TransportError as exc:
            not_sent = isinstance(exc, (httpx.ConnectError, httpx.ConnectTimeout))
            raise ConnectionProblem(self.url, _reason(exc), maybe_sent=not not_sent) from None
        try:
            data: Any = resp.json() if resp.content else {}
        except (json.JSONDecodeError, UnicodeDecodeError):
            data = None
        if resp.status_code != expect or not isinstance(data, dict):
            raise ApiError(resp.status_code, _error_items(data), resp.text, _retry_after(resp))
        return data


def _retry_after(resp: httpx.Response) -> float | None:
    raw = resp.headers.get("retry-after", "")
    return float(raw) if raw.isascii() and raw.isdigit() and len(raw) < 7 else None


def _path_id(omnimessage_id: str) -> str:
    """An id goes into the path as is when it is a UUID; anything else is quoted so it cannot
    escape its path segment (the server answers 404 for it)."""
    try:
        return str(uuid.UUID(omnimessage_id))
    except ValueError:
        return quote(omnimessage_id, safe="") or "-"


def _blacklist_path(phone: str) -> str:
    return f"/v1/phonebook/blacklist/{quote(phone, safe='') or '-'}"
