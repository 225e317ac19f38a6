"""Viber Business Messages through Infobip (Viber BM has no public direct API: partners only).

Send: `POST {base}/viber/2/messages` with `Authorization: App <api key>` and

    {"messages": [{"sender": <Viber sender / service name>,
                   "destinations": [{"to": "<E.164 digits>", "messageId": <our message id>}],
                   "content": {"type": "TEXT" | "IMAGE" | "VIDEO", ...},
                   "options": {"validityPeriod": {"amount": <s>, "timeUnit": "SECONDS"}},
                   "webhooks": {"delivery": {"url": ...}, "seen": {"url": ...},
                                "contentType": "application/json"}}]}

Our `viber` content maps onto Infobip's content types:

| our shape                                   | Infobip content                                   |
|---------------------------------------------|---------------------------------------------------|
| text                                        | TEXT {text}                                       |
| text + button_text + button_url             | TEXT {text, button {title, action}}               |
| image_url                                   | IMAGE {mediaUrl}                                  |
| text + image_url + button_text + button_url | IMAGE {mediaUrl, text, button {title, action}}    |
| video (+ text, + button_text)               | VIDEO {mediaUrl, thumbnailUrl, mediaDuration,     |
|                                             |        text, buttonTitle}                         |
| video + button_url                          | rejected: Infobip's VIDEO has no button URL       |
| template, carousel                          | rejected: not expressible in Infobip's BM API     |

Our message id travels as the destination's `messageId`, so Infobip's reports carry it back and it
is the provider ref. Infobip does not document `messageId` as an idempotency key (it rejects
duplicates at best), so a timeout after sending stays UNKNOWN and is never resent blindly.

Inbound messages come on the same URL (Infobip's inbound Viber format: `results[]` with `from`
and `message`), keyed by Infobip's `messageId`.

Callbacks: Infobip does not sign its delivery reports. Each message's webhook URLs are our
configured `webhook_url` plus `?token=<webhook_secret>`; a callback without `token` is answered 401,
a wrong one 403 (constant-time comparison). Delivery reports are `{"results": [{messageId, status
{groupName, name, ...}, error {...}, doneAt, ...}]}`; seen reports `{"results": [{messageId, seenAt,
...}]}`.

| Infobip                                   | status / err                                    |
|-------------------------------------------|-------------------------------------------------|
| send answer 200, group PENDING            | ACK / 0                                         |
| report group PENDING                      | ACK / 0                                         |
| report group DELIVERED                    | DELIVRD / 0                                     |
| seen report (`seenAt`)                    | SEEN / 10                                       |
| report group UNDELIVERABLE                | UNDELIV / 1 (3 when the error says the number   |
|                                           | is unknown / not a Viber user)                  |
| report group EXPIRED                      | EXPIRED / 2                                     |
| report group REJECTED                     | REJECTD / err from the status name (see below)  |
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import httpx

from tidings.channels.http_base import (
    HttpConnector,
    HttpSettings,
    InboundRequest,
    ProviderEvent,
    constant_time_equal,
    content_of,
    digits,
    status_error,
)
from tidings.core.dispatch import SendJob, SendOutcome
from tidings.core.inbound import InboundMessage, sender_number

INFOBIP_URL = "https://api.infobip.com"
SEND_PATH = "/viber/2/messages"
TOKEN_PARAM = "token"
MAX_VALIDITY_S = 48 * 3600  # Infobip caps the validity period at 48 h

# Infobip report status group -> (our status, err)
GROUP_MAP: dict[str, tuple[str, int]] = {
    "PENDING": ("ACK", 0),
    "DELIVERED": ("DELIVRD", 0),
    "UNDELIVERABLE": ("UNDELIV", 1),
    "EXPIRED": ("EXPIRED", 2),
    "REJECTED": ("REJECTD", 1),
}

# Infobip REJECTED_* status names -> our err code
REJECTED_ERR: dict[str, int] = {
    "REJECTED_DESTINATION": 3,
    "REJECTED_INVALID_DESTINATION": 3,
    "REJECTED_DESTINATION_NOT_REGISTERED": 3,
    "MISSING_TO": 5,
    "REJECTED_PREFIX_MISSING": 5,
    "REJECTED_NOT_ENOUGH_CREDITS": 4,
    "REJECTED_PREPAID_PACKAGE_EXPIRED": 4,
    "REJECTED_SENDER": 7,
    "REJECTED_SOURCE": 7,
    "REJECTED_FLOODING_FILTER": 6,
    "REJECTED_NETWORK": 9,
    "REJECTED_ROUTE_NOT_AVAILABLE": 9,
    "REJECTED_DND": 8,
}

# fragments of error names / descriptions that mean "this number cannot get Viber messages"
UNKNOWN_NUMBER_HINTS = ("UNKNOWN_SUBSCRIBER", "NOT_VIBER_USER", "NO_SUITABLE_DEVICE")


@dataclass(frozen=True, slots=True)
class ViberSettings:
    api_key: str
    webhook_secret: str
    sender: str | None = None  # the Viber sender name; None: the message's own sender
    webhook_url: str | None = None  # public URL of /providers/NAME/webhook (no token)
    seen_reports: bool = True
    http: HttpSettings = field(default_factory=lambda: HttpSettings(INFOBIP_URL))


def callback_url(base: str, secret: str) -> str:
    """The webhook URL Infobip is given: ours plus the shared secret as a query parameter."""
    return str(httpx.URL(base).copy_add_param(TOKEN_PARAM, secret))


def infobip_content(content: Mapping[str, Any]) -> dict[str, Any]:
    """Our `viber` content object as Infobip content (ValueError: not expressible there)."""
    if content.get("template") is not None:
        raise ValueError(
            "Infobip's Viber Business Messages API cannot send a template by id "
            "(route viber templates to another connector)"
        )
    if content.get("carousel") is not None:
        raise ValueError("Infobip's Viber Business Messages API cannot send a carousel")
    text = content.get("text")
    button: dict[str, str] | None = None
    if content.get("button_text") and content.get("button_url"):
        button = {"title": content["button_text"], "action": content["button_url"]}
    video = content.get("video")
    if isinstance(video, Mapping):
        if content.get("button_url"):
            raise ValueError("Infobip's Viber VIDEO message has no button URL (button_text only)")
        out: dict[str, Any] = {
            "type": "VIDEO",
            "mediaUrl": video.get("url"),
            "thumbnailUrl": video.get("thumbnail"),
            "mediaDuration": video.get("duration"),
        }
        if text:
            out["text"] = text
        if content.get("button_text"):
            out["buttonTitle"] = content["button_text"]
        return out
    if content.get("image_url"):
        out = {"type": "IMAGE", "mediaUrl": content["image_url"]}
        if text:
            out["text"] = text
        if button:
            out["button"] = button
        return out
    if not text:
        raise ValueError("viber content has neither text, image nor video")
    out = {"type": "TEXT", "text": text}
    if button:
        out["button"] = button
    return out


def rejected_err(status_name: str) -> int:
    return REJECTED_ERR.get(status_name.upper(), 1)


class ViberConnector(HttpConnector[ViberSettings]):
    type_name = "viber"
    webhooks = True

    def _headers(self) -> dict[str, str]:
        return {
            **super()._headers(),
            "Authorization": f"App {self.settings.api_key}",
            "Accept": "application/json",
        }

    def payload(self, job: SendJob) -> dict[str, Any]:
        s = self.settings
        message: dict[str, Any] = {
            "sender": s.sender or job.sender,
            "destinations": [{"to": digits(job.to), "messageId": job.message_id}],
            "content": infobip_content(content_of(job)),
            "options": {
                "validityPeriod": {
                    "amount": max(1, min(job.validity_s, MAX_VALIDITY_S)),
                    "timeUnit": "SECONDS",
                }
            },
        }
        if s.webhook_url:
            url = callback_url(s.webhook_url, s.webhook_secret)
            hooks: dict[str, Any] = {"delivery": {"url": url}, "contentType": "application/json"}
            if s.seen_reports:
                hooks["seen"] = {"url": url}
            message["webhooks"] = hooks
        return {"messages": [message]}

    async def send_one(self, job: SendJob) -> SendOutcome:
        try:
            body = self.payload(job)
        except ValueError as exc:
            return self.rejected(job, 1, str(exc))
        resp = await self.client.post(SEND_PATH, json=body)
        if 200 <= resp.status_code < 300:
            return self._answered(job, resp)
        if resp.status_code == 429 or resp.status_code >= 500:
            return self.retry_from(job, resp)
        if resp.status_code in (401, 403):
            return self.rejected(
                job, 999, f"Infobip refused the credentials: {_error_text(resp)}"[:200]
            )
        return self.rejected(job, _send_error_err(resp), f"Infobip: {_error_text(resp)}"[:200])

    def _answered(self, job: SendJob, resp: httpx.Response) -> SendOutcome:
        try:
            first = resp.json()["messages"][0]
        except (ValueError, LookupError, TypeError):
            return self.accepted(job, job.message_id)
        status = first.get("status") if isinstance(first, dict) else None
        if isinstance(status, dict) and str(status.get("groupName", "")).upper() == "REJECTED":
            name = str(status.get("name") or "REJECTED")
            detail = str(status.get("description") or name)
            return self.rejected(job, rejected_err(name), f"Infobip rejected it: {detail}"[:200])
        ref = first.get("messageId") if isinstance(first, dict) else None
        return self.accepted(job, str(ref) if ref else job.message_id)

    # -- callbacks ---------------------------------------------------------------------------

    def authenticate(self, request: InboundRequest) -> bool | None:
        given = request.query.get(TOKEN_PARAM)
        if not given:
            return None
        return constant_time_equal(given, self.settings.webhook_secret)

    async def events(self, request: InboundRequest) -> list[ProviderEvent | InboundMessage]:
        body = request.json()
        if not isinstance(body, dict) or not isinstance(body.get("results"), list):
            raise ValueError("not an Infobip report body")
        now = self._now_us()
        out: list[ProviderEvent | InboundMessage] = []
        for r in body["results"]:
            if not isinstance(r, dict) or not isinstance(r.get("messageId"), str):
                continue
            if isinstance(r.get("from"), str) and isinstance(r.get("message"), dict):
                out.append(_inbound(r, self.settings.sender, now))
                continue
            ref: str = r["messageId"]
            status = r.get("status")
            if isinstance(status, dict):
                event = _delivery_event(ref, status, r.get("error"), now)
                if event is not None:
                    out.append(event)
            elif r.get("seenAt") is not None:
                at = _ts(r.get("seenAt"), now)
                out.append(ProviderEvent(f"{ref}:SEEN", ref, "SEEN", 10, None, at))
        return out


def _inbound(r: Mapping[str, Any], sender: str | None, now_us: int) -> InboundMessage:
    """An Infobip inbound Viber message: `{from, to, receivedAt, messageId, message: {type,
    text | url | ...}}`."""
    message: Mapping[str, Any] = r["message"]
    kind = str(message.get("type") or "TEXT").upper()
    text = message.get("text") if isinstance(message.get("text"), str) else ""
    content: dict[str, Any] | None = None
    if kind not in ("TEXT", ""):
        content = {"media": {"kind": kind.lower(), "url": message.get("url")}}
    if isinstance(message.get("payload"), str):  # a button reply
        content = {"button": {"payload": message["payload"], "text": text}}
    return InboundMessage(
        key=str(r["messageId"])[:200],
        channel="viber",
        sender=sender_number(str(r["from"])),
        recipient=str(r.get("to") or sender or ""),
        text=str(text),
        at_us=_ts(r.get("receivedAt"), now_us),
        content=content,
    )


def _delivery_event(
    ref: str, status: Mapping[str, Any], error: object, now_us: int
) -> ProviderEvent | None:
    group = str(status.get("groupName") or "").upper()
    if group not in GROUP_MAP:
        return None
    ours, err = GROUP_MAP[group]
    name = str(status.get("name") or group)
    text = status_error(ours, err)
    if group == "REJECTED":
        err = rejected_err(name)
        text = str(status.get("description") or status_error(ours, err))
    elif group == "UNDELIVERABLE":
        err = _undeliverable_err(error)
        text = status_error(ours, err)
        if isinstance(error, dict) and error.get("description"):
            text = str(error["description"])
    at = _ts(status.get("doneAt"), now_us)
    return ProviderEvent(f"{ref}:{group}:{name}", ref, ours, err, text and text[:200], at)


def _undeliverable_err(error: object) -> int:
    if isinstance(error, dict):
        words = f"{error.get('name') or ''} {error.get('description') or ''}".upper()
        words = words.replace(" ", "_")
        if any(h in words for h in UNKNOWN_NUMBER_HINTS):
            return 3
    return 1


def _ts(value: object, default_us: int) -> int:
    """Infobip's `yyyy-MM-dd'T'HH:mm:ss.SSSZ` (e.g. `2024-01-02T03:04:05.678+0000`)."""
    if not isinstance(value, str):
        return default_us
    try:
        return int(datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp() * 1_000_000)
    except ValueError:
        return default_us


def _error_items(resp: httpx.Response) -> list[tuple[str, str]]:
    """(property, message) pairs from either Infobip error shape."""
    try:
        body = resp.json()
    except ValueError:
        return []
    if not isinstance(body, dict):
        return []
    items: list[tuple[str, str]] = []
    # current shape: {"errorCode", "description", "action", "violations": [{property, violation}]}
    for v in body.get("violations") or []:
        if isinstance(v, dict):
            items.append((str(v.get("property") or ""), str(v.get("violation") or "")))
    if body.get("description"):
        items.append(("", str(body["description"])))
    # legacy shape: {"requestError": {"serviceException": {messageId, text, validationErrors}}}
    exc = (body.get("requestError") or {}).get("serviceException") or {}
    if isinstance(exc, dict):
        errors = exc.get("validationErrors") or {}
        if isinstance(errors, dict):
            for prop, msgs in errors.items():
                for m in msgs if isinstance(msgs, list) else [msgs]:
                    items.append((str(prop), str(m)))
        if exc.get("text"):
            items.append(("", str(exc["text"])))
    return items


def _error_text(resp: httpx.Response) -> str:
    items = _error_items(resp)
    if not items:
        return f"HTTP {resp.status_code}"
    return "; ".join(f"{p}: {m}" if p else m for p, m in items)


def _send_error_err(resp: httpx.Response) -> int:
    for prop, message in _error_items(resp):
        p, m = prop.lower(), message.lower()
        if p.endswith(".to") or p.endswith("destinations") or "destination" in m:
            return 3  # invalid destination
        if p.endswith("sender") or "sender" in m:
            return 7
    return 1
