"""The web console's pages: sign-in, inbox (live), scheduled queue, message timeline, compose,
search. Server-rendered with Jinja2; a little vanilla JS for the live feed and countdowns."""

from __future__ import annotations

import asyncio
import math
import secrets
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode

import orjson
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response, StreamingResponse
from starlette.routing import BaseRoute, Match, Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.templating import Jinja2Templates
from starlette.types import Scope

from tidings.core.errors import ErrorItem, RequestInvalid
from tidings.core.model import CHANNELS, PRIORITIES, TEXT_STORES
from tidings.core.nul import NUL
from tidings.core.phone import normalise_msisdn
from tidings.core.strict_int import parse_int
from tidings.core.validation import validate_sandbox_inbound
from tidings.store.records import Account, CancelResult
from tidings.web.auth import TooManyAttempts
from tidings.web.console import batches, views
from tidings.web.console.session import (
    COOKIE,
    DEVICE_COOKIE,
    DEVICE_MAX_AGE_S,
    MAX_AGE_S,
    Device,
    Session,
    SessionCodec,
    csrf_ok,
    token_hash,
)
from tidings.web.context import ApiContext, client_address
from tidings.web.strict_json import refuse_nul

Handler = Callable[[Request], Awaitable[Response]]
_HERE = Path(__file__).parent
PAGE_SIZE = 50
COMPOSE_ROWS = 3
MAX_FORM_BYTES = 64 * 1024
LIVE_POLL_S = 0.5
LIVE_STREAM_S = 25.0  # a stream ends (and the browser reconnects) so shutdowns are never held up
LIVE_LOOKBACK_US = 2_000_000  # rows committed slightly out of order are still seen
_NEVER_US = 2**62  # after every time stored
CSP = (
    "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self';"
    " connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)


class BadRequest(Exception):
    """A query parameter the console cannot read: answered with a 400 page."""


def _cursor_param(request: Request, name: str) -> tuple[int, str] | None:
    """A page cursor `<microseconds>_<id>` from the query string; absent or empty: None."""
    raw = request.query_params.get(name)
    if not raw:
        return None
    us, _, ident = raw.partition("_")
    value = parse_int(us)
    if value is None or not ident:
        raise BadRequest(f"The page cursor {name!r} is not one this site made.")
    return value, ident


def _cursor(us: int, ident: str) -> str:
    return f"{us}_{ident}"


def _uuid(raw: str) -> str | None:
    try:
        return str(uuid.UUID(raw))
    except ValueError:
        return None


def _utc_input_us(raw: str | None) -> int | None:
    """`YYYY-MM-DDTHH:MM[:SS]` (a datetime-local value, read as UTC) in microseconds."""
    if not raw:
        return None
    try:
        dt = datetime.fromisoformat(raw)
    except ValueError:
        return None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return int(dt.timestamp() * 1_000_000)


def local_to_utc(raw: str, offset_min: str | None) -> str:
    """A browser's local datetime-local value plus its `getTimezoneOffset()` (minutes, UTC minus
    local) as an ISO 8601 UTC time; anything unreadable is passed on for the validator to name."""
    raw = raw.strip()
    try:
        local = datetime.fromisoformat(raw)
        offset = int(offset_min) if offset_min not in (None, "") else 0
    except (ValueError, TypeError):
        return raw
    if local.tzinfo is not None or not -1440 < offset < 1440:
        return raw
    utc = local + timedelta(minutes=offset)
    return utc.strftime("%Y-%m-%dT%H:%M:%S") + "Z"


def channel_content(channel: str, text: str, sender: str) -> dict[str, Any]:
    """The API channel object a compose row stands for."""
    out: dict[str, Any] = {"channel": channel}
    if channel == "whatsapp":
        out["text"] = {"body": text}
    elif text or channel != "viber":
        out["text"] = text
    if sender:
        out["sender"] = sender
    return out


def field_for(source: str | None, rows: list[int]) -> str | None:
    """The compose form field that an API error `source` names (None: the form as a whole)."""
    if source is None:
        return None
    if source in ("to", "time_to_send", "priority", "text_store"):
        return source
    if source == "messages":
        return "channels"
    if source.startswith("messages["):
        index_s, _, rest = source[len("messages[") :].partition("]")
        if index_s.isdigit() and int(index_s) < len(rows):
            row = rows[int(index_s)]
            rest = rest.lstrip(".")
            if rest.startswith("text"):
                return f"ch{row}_text"
            if rest.startswith("sender"):
                return f"ch{row}_sender"
            return f"ch{row}_channel"
    return None


@dataclass(frozen=True, slots=True)
class Viewer:
    account: Account
    session: Session


class Console:
    def __init__(self, ctx: ApiContext) -> None:
        self.ctx = ctx
        self.templates = Jinja2Templates(directory=str(_HERE / "templates"))
        env = self.templates.env
        env.globals["channel_labels"] = views.CHANNEL_LABELS
        env.filters["utc"] = views.utc_label
        env.filters["utc_ms"] = views.utc_ms_label
        env.filters["iso"] = views.iso
        env.filters["status_class"] = views.status_class
        self._codec: SessionCodec | None = None
        self._codec_lock = asyncio.Lock()

    # -- plumbing ----------------------------------------------------------------------------

    async def codec(self) -> SessionCodec:
        if self._codec is None:
            async with self._codec_lock:
                if self._codec is None:
                    key = await self.ctx.store.console.secret("session-key", secrets.token_hex(32))
                    self._codec = SessionCodec(bytes.fromhex(key))
        return self._codec

    async def session_of(self, request: Request) -> Session | None:
        return (await self.codec()).loads(request.cookies.get(COOKIE))

    async def viewer(self, request: Request) -> Viewer | None:
        """The signed-in account: its session row must still exist (sign-out, a password change
        or the account's removal delete it, in whichever process)."""
        s = await self.session_of(request)
        if s is None or s.token is None:
            return None
        store = self.ctx.store
        account = await store.sessions.account(token_hash(s.token), await store.now_us())
        return None if account is None else Viewer(account, s)

    async def _still_signed_in(self, v: Viewer) -> bool:
        if v.session.token is None:
            return False
        store = self.ctx.store
        found = await store.sessions.account(token_hash(v.session.token), await store.now_us())
        return found is not None and found.id == v.account.id

    async def save(
        self, request: Request, response: Response, s: Session, device: Device | None = None
    ) -> Response:
        codec = await self.codec()
        secure = request.url.scheme == "https"
        response.set_cookie(
            COOKIE,
            codec.dumps(s),
            max_age=MAX_AGE_S,
            path="/",
            httponly=True,
            samesite="lax",
            secure=secure,
        )
        if device is not None:
            response.set_cookie(
                DEVICE_COOKIE,
                codec.dumps_device(device),
                max_age=DEVICE_MAX_AGE_S,
                path="/login",
                httponly=True,
                samesite="strict",
                secure=secure,
            )
        return response

    def page(
        self,
        request: Request,
        name: str,
        context: Mapping[str, Any],
        status: int = 200,
        viewer: Viewer | None = None,
        session: Session | None = None,
    ) -> Response:
        s = viewer.session if viewer is not None else session
        ctx = {
            "viewer": viewer,
            "account": viewer.account if viewer else None,
            "csrf": s.csrf if s else "",
            "path": request.url.path,
            **context,
        }
        response = self.templates.TemplateResponse(request, name, ctx, status_code=status)
        secure_headers(response)
        return response

    def to_login(self, request: Request) -> Response:
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        return RedirectResponse(f"/login?{urlencode({'next': target})}", status_code=303)

    async def form(self, request: Request) -> dict[str, str] | None:
        if not request.headers.get("content-type", "").startswith(
            "application/x-www-form-urlencoded"
        ):
            return None
        body = b""
        async for chunk in request.stream():
            body += chunk
            if len(body) > MAX_FORM_BYTES:
                return None
        try:
            parsed = parse_qs(body.decode("utf-8"), keep_blank_values=True)
        except UnicodeDecodeError:
            return None
        return {k: v[0] for k, v in parsed.items()}

    def refused(self, request: Request, viewer: Viewer | None) -> Response:
        return self.page(
            request,
            "error.html",
            {
                "title": "Form refused",
                "message": "This form was sent without a valid security token (CSRF). "
                "Reload the page and try again.",
            },
            status=403,
            viewer=viewer,
        )

    async def bad_request(self, request: Request, message: str) -> Response:
        title = "Bad request"
        context = {"title": title, "message": message}
        return self.page(request, "error.html", context, 400, await self.viewer(request))

    def not_found(self, request: Request, viewer: Viewer | None, what: str = "") -> Response:
        return self.page(request, "not_found.html", {"what": what}, status=404, viewer=viewer)

    # -- sign-in -----------------------------------------------------------------------------

    async def login_form(self, request: Request) -> Response:
        if await self.viewer(request) is not None:
            return RedirectResponse("/", status_code=303)
        s = await self.session_of(request) or Session.anonymous()
        nxt = _safe_next(request.query_params.get("next"))
        response = self.page(request, "login.html", {"next": nxt, "error": None}, session=s)
        return await self.save(request, response, s)

    async def login(self, request: Request) -> Response:
        s = await self.session_of(request)
        data = await self.form(request)
        if s is None or data is None or not csrf_ok(s, data.get("csrf")):
            return self.refused(request, None)
        username, password = data.get("username", ""), data.get("password", "")
        nxt = _safe_next(data.get("next"))
        codec = await self.codec()
        device = codec.loads_device(request.cookies.get(DEVICE_COOKIE))
        if device is not None and device.username != username:
            device = None  # a device token speaks only for the user it signed in
        try:
            account = await self.ctx.auth.check_password(
                username, password, client_address(request), device.token if device else None
            )
        except TooManyAttempts as exc:
            wait = max(1, math.ceil(exc.retry_after_s))
            response = self.page(
                request,
                "login.html",
                {
                    "next": nxt,
                    "username": username,
                    "error": f"Too many failed sign-ins. Try again in {wait} s.",
                },
                status=429,
                session=s,
            )
            response.headers["Retry-After"] = str(wait)
            return response
        if account is None:
            return self.page(
                request,
                "login.html",
                {"next": nxt, "username": username, "error": "Wrong username or password."},
                status=401,
                session=s,
            )
        new = s.signed_in()
        assert new.token is not None
        store = self.ctx.store
        now = await store.now_us()
        await store.sessions.create(token_hash(new.token), account.id, now, new.expires * 1_000_000)
        response = RedirectResponse(nxt, status_code=303)
        return await self.save(request, response, new, device or Device.new(account.username))

    async def logout(self, request: Request) -> Response:
        s = await self.session_of(request)
        data = await self.form(request)
        if s is None or data is None or not csrf_ok(s, data.get("csrf")):
            return self.refused(request, await self.viewer(request))
        if s.token is not None:
            await self.ctx.store.sessions.end(token_hash(s.token))
        return await self.save(
            request, RedirectResponse("/login", status_code=303), Session.anonymous()
        )

    # -- inbox -------------------------------------------------------------------------------

    async def inbox(self, request: Request) -> Response:
        v = await self.viewer(request)
        if v is None:
            return self.to_login(request)
        before = _cursor_param(request, "before")
        rows = await self.ctx.store.console.inbox(v.account.id, before=before, limit=PAGE_SIZE + 1)
        more = len(rows) > PAGE_SIZE
        rows = rows[:PAGE_SIZE]
        older = _cursor(rows[-1].delivered_us, rows[-1].message_id) if more else None
        since = rows[0].delivered_us if rows and before is None else None
        if since is None and before is None:
            since = await self.ctx.store.now_us()
        # The replies received in the same span of time as the deliveries shown.
        replies = await self.ctx.store.inbound.page(
            v.account.id,
            rows[-1].delivered_us if more else 0,
            before[0] if before is not None else _NEVER_US,
            PAGE_SIZE,
        )
        return self.page(
            request,
            "inbox.html",
            {
                "conversations": views.group_by_recipient(rows, replies),
                "older": older,
                "paged": before is not None,
                "live_since": since,
            },
            viewer=v,
        )

    async def inbox_events(self, request: Request) -> Response:
        v = await self.viewer(request)
        if v is None:
            return Response("sign in first", status_code=401, media_type="text/plain")
        raw = request.headers.get("last-event-id") or request.query_params.get("since")
        if raw:
            if (given := parse_int(raw, 0)) is None:
                raise BadRequest("since (or Last-Event-ID) must be a time in microseconds.")
            since = given
        else:
            since = await self.ctx.store.now_us()
        store, account_id = self.ctx.store, v.account.id
        bubble_macro = self.templates.env.get_template("_bubbles.html").module

        async def stream() -> AsyncIterator[bytes]:
            nonlocal since
            seen: set[str] = set()
            loop = asyncio.get_running_loop()
            end = loop.time() + LIVE_STREAM_S
            yield b"retry: 1000\n\n"
            while loop.time() < end:
                rows = await store.console.inbox_since(
                    account_id, max(0, since - LIVE_LOOKBACK_US), 200
                )
                replies = await store.inbound.page(
                    account_id, max(0, since - LIVE_LOOKBACK_US), _NEVER_US, 200
                )
                bubbles = [views.inbox_bubble(m) for m in rows]
                bubbles += [views.reply_bubble(r) for r in reversed(replies)]
                for b in bubbles:
                    at = b.at_us or 0
                    if b.message_id in seen or at < since - LIVE_LOOKBACK_US:
                        continue
                    seen.add(b.message_id)
                    html = str(bubble_macro.inbox_item(b))  # type: ignore[attr-defined]
                    kind = "reply" if b.reply else "delivery"
                    event = {"id": b.message_id, "kind": kind, "to": b.to, "at": at, "html": html}
                    data = orjson.dumps(event).decode()
                    since = max(since, at)
                    yield f"id: {since}\nevent: message\ndata: {data}\n\n".encode()
                if len(seen) > 5000:
                    seen.clear()
                await asyncio.sleep(LIVE_POLL_S)
                if await request.is_disconnected() or not await self._still_signed_in(v):
                    return  # a signed-out session gets nothing more
                yield b": keep-alive\n\n"

        return StreamingResponse(
            stream(),
            media_type="text/event-stream",
            headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
        )

    async def reply(self, request: Request) -> Response:
        """A recipient's reply, simulated from the phone view: the path of a real inbound
        message (the same as `POST /v1/sandbox/inbound`)."""
        v = await self.viewer(request)
        data = await self.form(request)
        if v is None:
            return self.to_login(request)
        if data is None or not csrf_ok(v.session, data.get("csrf")):
            return self.refused(request, v)
        body = {k: data.get(k, "") for k in ("from", "channel", "text")}
        try:
            refuse_nul(body)
            reply = validate_sandbox_inbound(body)
        except RequestInvalid as exc:
            return await self.bad_request(
                request, "The reply was not sent: " + "; ".join(_error_text(e) for e in exc.errors)
            )
        stored = await self.ctx.engine.sandbox_reply(
            v.account, reply.from_, reply.channel, reply.text
        )
        return RedirectResponse(f"/#r-{stored.id}", status_code=303)

    # -- scheduled ---------------------------------------------------------------------------

    async def scheduled(self, request: Request, notice: str | None = None) -> Response:
        v = await self.viewer(request)
        if v is None:
            return self.to_login(request)
        return await self._scheduled_page(request, v, notice=notice)

    async def _scheduled_page(
        self,
        request: Request,
        v: Viewer,
        *,
        notice: str | None = None,
        problem: str | None = None,
        status: int = 200,
    ) -> Response:
        q = request.query_params
        filters = {k: q.get(k, "").strip() for k in ("to", "channel", "from", "until")}
        errors: dict[str, str] = {}
        to = None
        if filters["to"]:
            try:
                to = normalise_msisdn(filters["to"])
            except ValueError as exc:
                errors["to"] = str(exc)
        channel = filters["channel"] if filters["channel"] in CHANNELS else None
        from_us = _utc_input_us(filters["from"])
        until_us = _utc_input_us(filters["until"])
        if filters["from"] and from_us is None:
            errors["from"] = "Not a date and time"
        if filters["until"] and until_us is None:
            errors["until"] = "Not a date and time"
        after = _cursor_param(request, "after")
        rows = []
        more = False
        if not errors:
            rows = await self.ctx.store.console.scheduled(
                v.account.id,
                to=to,
                channel=channel,
                from_us=from_us,
                until_us=until_us,
                after=after,
                limit=PAGE_SIZE + 1,
            )
            more = len(rows) > PAGE_SIZE
            rows = rows[:PAGE_SIZE]
        kept = {k: val for k, val in filters.items() if val}
        next_url = None
        if more:
            next_url = "/scheduled?" + urlencode(
                {**kept, "after": _cursor(rows[-1].due_us, rows[-1].id)}
            )
        cancelled = q.get("cancelled")
        if notice is None and cancelled and _uuid(cancelled):
            notice = cancelled
        return self.page(
            request,
            "scheduled.html",
            {
                "rows": [(o, views.preview(o)) for o in rows],
                "filters": filters,
                "errors": errors,
                "next_url": next_url,
                "first_url": ("/scheduled?" + urlencode(kept)) if after else None,
                "cancelled": notice,
                "problem": problem,
                "channels": CHANNELS,
                "now_ms": (await self.ctx.store.now_us()) // 1000,
            },
            status=status,
            viewer=v,
        )

    async def cancel(self, request: Request) -> Response:
        v = await self.viewer(request)
        data = await self.form(request)
        if v is None:
            return self.to_login(request)
        if data is None or not csrf_ok(v.session, data.get("csrf")):
            return self.refused(request, v)
        omni_id = _uuid(str(request.path_params["omnimessage_id"]))
        result = CancelResult.NOT_FOUND
        if omni_id is not None:
            result = await self.ctx.engine.cancel(v.account, omni_id)
        if result == CancelResult.NOT_FOUND:
            return await self._scheduled_page(
                request,
                v,
                problem="Not found (404): no scheduled message with this id. It was already "
                "sent, or it does not exist. Nothing was cancelled.",
                status=404,
            )
        return RedirectResponse(f"/scheduled?{urlencode({'cancelled': omni_id})}", 303)

    # -- message page ------------------------------------------------------------------------

    async def message(self, request: Request) -> Response:
        v = await self.viewer(request)
        if v is None:
            return self.to_login(request)
        omni_id = _uuid(str(request.path_params["omnimessage_id"]))
        t = None
        if omni_id is not None:
            t = await self.ctx.store.console.timeline(v.account.id, omni_id)
        if t is None:
            return self.not_found(request, v, "message")
        m = t.message
        return self.page(
            request,
            "message.html",
            {
                "m": m,
                "bubbles": [(c, views.channel_bubble(c, m.id)) for c in m.channels],
                "events": views.timeline_events(t),
                "priority": {v_: k for k, v_ in PRIORITIES.items()}.get(m.priority, m.priority),
                "just_sent": request.query_params.get("sent") == "1",
                "now_ms": (await self.ctx.store.now_us()) // 1000,
            },
            viewer=v,
        )

    # -- compose -----------------------------------------------------------------------------

    async def compose_form(self, request: Request) -> Response:
        v = await self.viewer(request)
        if v is None:
            return self.to_login(request)
        values = {"ch0_channel": "sms", "priority": "regular", "text_store": "plaintext"}
        return self._compose_page(request, v, values, {}, [])

    def _compose_page(
        self,
        request: Request,
        v: Viewer,
        values: Mapping[str, str],
        errors: Mapping[str, list[str]],
        general: list[str],
        status: int = 200,
    ) -> Response:
        return self.page(
            request,
            "compose.html",
            {
                "values": values,
                "errors": errors,
                "general": general,
                "rows": range(COMPOSE_ROWS),
                "channels": CHANNELS,
                "priorities": list(PRIORITIES),
                "text_stores": TEXT_STORES,
            },
            status=status,
            viewer=v,
        )

    async def compose(self, request: Request) -> Response:
        v = await self.viewer(request)
        data = await self.form(request)
        if v is None:
            return self.to_login(request)
        if data is None or not csrf_ok(v.session, data.get("csrf")):
            return self.refused(request, v)
        body: dict[str, Any] = {"to": data.get("to", "").strip()}
        rows: list[int] = []
        messages: list[dict[str, Any]] = []
        for i in range(COMPOSE_ROWS):
            channel = data.get(f"ch{i}_channel", "")
            if not channel:
                continue
            rows.append(i)
            messages.append(
                channel_content(
                    channel, data.get(f"ch{i}_text", ""), data.get(f"ch{i}_sender", "").strip()
                )
            )
        body["messages"] = messages
        if data.get("time_to_send", "").strip():
            body["time_to_send"] = local_to_utc(data["time_to_send"], data.get("tz_offset"))
        for key in ("priority", "text_store"):
            if data.get(key):
                body[key] = data[key]
        try:
            refuse_nul(body)
            record = await self.ctx.engine.submit(v.account, body)
        except RequestInvalid as exc:
            errors: dict[str, list[str]] = {}
            general: list[str] = []
            for e in exc.errors:
                name = field_for(e.source, rows)
                if name is None:
                    general.append(_error_text(e))
                else:
                    errors.setdefault(name, []).append(e.detail)
            return self._compose_page(request, v, data, errors, general, status=400)
        return RedirectResponse(f"/messages/{record.id}?sent=1", status_code=303)

    # -- search ------------------------------------------------------------------------------

    async def search(self, request: Request) -> Response:
        v = await self.viewer(request)
        if v is None:
            return self.to_login(request)
        q = request.query_params.get("q", "").strip()
        before = _cursor_param(request, "before")
        kind, rows, more, problem = None, [], False, None
        if q:
            omni_id, to, text = _uuid(q), None, None
            if omni_id is not None:
                kind = "id"
            elif (digits := q.lstrip("+")).isascii() and digits.isdigit():
                try:
                    to, kind = normalise_msisdn(q), "number"
                except ValueError as exc:
                    problem = str(exc)
            else:
                text, kind = q, "text"
            if kind is not None:
                rows = await self.ctx.store.console.search(
                    v.account.id,
                    omni_id=omni_id,
                    to=to,
                    text=text,
                    before=before,
                    limit=PAGE_SIZE + 1,
                )
                more = len(rows) > PAGE_SIZE
                rows = rows[:PAGE_SIZE]
        next_url = None
        if more:
            next_url = "/search?" + urlencode(
                {"q": q, "before": _cursor(rows[-1].created_us, rows[-1].id)}
            )
        return self.page(
            request,
            "search.html",
            {
                "q": q,
                "kind": kind,
                "rows": [(o, views.preview(o)) for o in rows],
                "next_url": next_url,
                "problem": problem,
            },
            viewer=v,
        )


def _error_text(e: ErrorItem) -> str:
    return f"{e.source}: {e.detail}" if e.source else e.detail


def _safe_next(raw: str | None) -> str:
    """Only a path on this site (never `//host` or a scheme): no open redirect."""
    if not raw or not raw.startswith("/") or raw.startswith("//") or "\\" in raw:
        return "/"
    return raw


def secure_headers(response: Response) -> None:
    response.headers["Content-Security-Policy"] = CSP
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Referrer-Policy"] = "same-origin"
    response.headers["X-Frame-Options"] = "DENY"
    response.headers["Cache-Control"] = "no-store"


class _ConsoleMount(Mount):
    """The console as one router mounted at the site root that claims only its own paths: every
    other request goes on through the API's routing untouched (its 404s and 405s included), and
    the API's route table (and so its OpenAPI check) lists no HTML page."""

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        if not any(route.matches(scope)[0] != Match.NONE for route in self.routes):
            return Match.NONE, {}
        return super().matches(scope)


def _checked(c: Console, handler: Handler) -> Handler:
    """`handler`, behind the console's rules for query strings: no NUL character anywhere (the
    database could not compare with it), and any parameter the page cannot read is a 400 page
    naming it, never a 500."""

    async def checked(request: Request) -> Response:
        if any(NUL in k or NUL in v for k, v in request.query_params.multi_items()):
            return await c.bad_request(request, "The address holds a NUL character (%00).")
        try:
            return await handler(request)
        except BadRequest as exc:
            return await c.bad_request(request, str(exc))

    return checked


def console_routes(ctx: ApiContext) -> list[BaseRoute]:
    c = Console(ctx)

    def page(path: str, handler: Handler, method: str) -> Route:
        return Route(path, _checked(c, handler), methods=[method])

    pages: list[BaseRoute] = [
        page("/", c.inbox, "GET"),
        page("/login", c.login_form, "GET"),
        page("/login", c.login, "POST"),
        page("/logout", c.logout, "POST"),
        page("/inbox/events", c.inbox_events, "GET"),
        page("/inbox/reply", c.reply, "POST"),
        page("/scheduled", c.scheduled, "GET"),
        page("/scheduled/{omnimessage_id}/cancel", c.cancel, "POST"),
        page("/messages/{omnimessage_id}", c.message, "GET"),
        page("/compose", c.compose_form, "GET"),
        page("/compose", c.compose, "POST"),
        page("/search", c.search, "GET"),
        page("/batches", lambda r: batches.page(c, r), "GET"),
        page("/batches/{tag}/{action}", lambda r: batches.act(c, r), "POST"),
        Mount("/static", app=StaticFiles(directory=str(_HERE / "static")), name="static"),
    ]
    return [_ConsoleMount("", routes=pages)]
