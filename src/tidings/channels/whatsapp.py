"""WhatsApp Business Platform, Cloud API (Meta Graph API).

Send: `POST {base}/{version}/{phone_number_id}/messages` with a Bearer token. Our `whatsapp`
content maps 1:1 onto the Graph payload (`text`, `template`, `image`, `video`, `audio`,
`document`, `sticker`). The Graph API takes no idempotency key, so our message id travels as
`biz_opaque_callback_data` (echoed in status callbacks) and a timeout after sending is UNKNOWN;
its statuses are matched by that id, since we never learnt the wamid.

Callbacks: `GET` subscription handshake (`hub.verify_token` -> echo `hub.challenge`), then `POST`s
signed with `X-Hub-Signature-256: sha256=<hex HMAC-SHA256(app secret, raw body)>`. They carry
statuses (`value.statuses`) and inbound messages (`value.messages`: text, media, button and
list replies, locations; keyed by their wamid, so a replay is recognised).
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass, field
from typing import Any

import httpx

from tidings.channels.http_base import (
    HttpConnector,
    HttpSettings,
    InboundRequest,
    ProviderEvent,
    WebhookReply,
    constant_time_equal,
    content_of,
    digits,
    seconds_to_us,
    status_error,
)
from tidings.core.dispatch import SendJob, SendOutcome
from tidings.core.inbound import InboundMessage, sender_number

GRAPH_URL = "https://graph.facebook.com"
MESSAGE_TYPES = ("text", "template", "image", "video", "audio", "document", "sticker")

# Graph error codes that mean "slow down" (throughput, pair rate, spam rate, app rate limits).
RATE_LIMIT_CODES = frozenset({4, 80007, 130429, 131048, 131056})
# Temporary on Meta's side.
TEMPORARY_CODES = frozenset({1, 2, 131000, 131016, 133004})
AUTH_CODES = frozenset({190, 10, 200})


@dataclass(frozen=True, slots=True)
class WhatsAppSettings:
    phone_number_id: str
    access_token: str
    app_secret: str
    verify_token: str
    api_version: str = "v21.0"
    http: HttpSettings = field(default_factory=lambda: HttpSettings(GRAPH_URL))


def _strip_none(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _strip_none(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_strip_none(v) for v in value]
    return value


def graph_payload(to: str, content: dict[str, Any], message_id: str) -> dict[str, Any]:
    kinds = [k for k in MESSAGE_TYPES if content.get(k) is not None]
    if len(kinds) != 1:
        raise ValueError("whatsapp content needs exactly one message type")
    kind = kinds[0]
    return {
        "messaging_product": "whatsapp",
        "recipient_type": "individual",
        "to": digits(to),
        "type": kind,
        kind: _strip_none(content[kind]),
        "biz_opaque_callback_data": message_id,
    }


def failed_err(errors: object) -> int:
    """Our err code for a failed status or a send error: 3 for an unreachable number."""
    codes: set[int] = set()
    if isinstance(errors, list):
        for e in errors:
            if isinstance(e, dict) and isinstance(e.get("code"), int):
                codes.add(e["code"])
    if codes & {131026, 131030}:
        return 3
    return 1


def send_error_err(code: int) -> int:
    if code in (131026, 131030):
        return 3  # not a WhatsApp user / not on the allowed list
    if code in (131021,):
        return 7  # recipient cannot be the sender
    if code in (100, 131009):
        return 5  # invalid parameter (usually the number)
    return 1


# WhatsApp status -> (our status, err)
STATUS_MAP: dict[str, tuple[str, int]] = {
    "sent": ("ACK", 0),
    "delivered": ("DELIVRD", 0),
    "read": ("SEEN", 10),
    "played": ("SEEN", 10),
    "failed": ("UNDELIV", 1),
}


class WhatsAppConnector(HttpConnector[WhatsAppSettings]):
    type_name = "whatsapp"
    webhooks = True

    def _headers(self) -> dict[str, str]:
        return {**super()._headers(), "Authorization": f"Bearer {self.settings.access_token}"}

    async def send_one(self, job: SendJob) -> SendOutcome:
        s = self.settings
        try:
            payload = graph_payload(job.to, content_of(job), job.message_id)
        except ValueError as exc:
            return self.rejected(job, 1, str(exc))
        resp = await self.client.post(
            f"/{s.api_version}/{s.phone_number_id}/messages", json=payload
        )
        if resp.status_code == 200:
            try:
                wamid = resp.json()["messages"][0]["id"]
            except (ValueError, LookupError, TypeError):
                return self.accepted(job, job.message_id)  # taken, but no id: no status mapping
            return self.accepted(job, str(wamid))
        if resp.status_code == 429 or resp.status_code >= 500:
            return self.retry_from(job, resp)
        code, message = _graph_error(resp)
        if code in RATE_LIMIT_CODES or code in TEMPORARY_CODES:
            return self.retry_from(job, resp)
        if code in AUTH_CODES or resp.status_code in (401, 403):
            return self.rejected(job, 999, f"WhatsApp refused the credentials: {message}")
        return self.rejected(job, send_error_err(code), message or f"WhatsApp error {code}")

    # -- callbacks ---------------------------------------------------------------------------

    def handshake(self, request: InboundRequest) -> WebhookReply:
        q = request.query
        if q.get("hub.mode") == "subscribe" and constant_time_equal(
            q.get("hub.verify_token", ""), self.settings.verify_token
        ):
            return WebhookReply(200, q.get("hub.challenge", "").encode())
        return WebhookReply(403, b"verify token mismatch")

    def authenticate(self, request: InboundRequest) -> bool | None:
        given = request.headers.get("x-hub-signature-256")
        if not given:
            return None
        expected = "sha256=" + signature(self.settings.app_secret, request.body)
        return constant_time_equal(given.strip().lower(), expected)

    async def events(self, request: InboundRequest) -> list[ProviderEvent | InboundMessage]:
        body = request.json()
        if not isinstance(body, dict) or not isinstance(body.get("entry"), list):
            raise ValueError("not a WhatsApp webhook body")
        now = self._now_us()
        out: list[ProviderEvent | InboundMessage] = []
        for entry in body["entry"]:
            if not isinstance(entry, dict):
                continue
            for change in entry.get("changes") or []:
                value = (change or {}).get("value") if isinstance(change, dict) else None
                if not isinstance(value, dict):
                    continue
                metadata = value.get("metadata")
                ours = metadata.get("display_phone_number") if isinstance(metadata, dict) else None
                recipient = sender_number(str(ours)) if ours else self.settings.phone_number_id
                for msg in value.get("messages") or []:
                    if (inbound := inbound_message(msg, recipient, now)) is not None:
                        out.append(inbound)
                for st in value.get("statuses") or []:
                    if not isinstance(st, dict):
                        continue
                    wamid, raw = st.get("id"), st.get("status")
                    if not isinstance(wamid, str) or raw not in STATUS_MAP:
                        continue
                    status, err = STATUS_MAP[raw]
                    if raw == "failed":
                        err = failed_err(st.get("errors"))
                    error = status_error(status, err)
                    if raw == "failed" and isinstance(st.get("errors"), list) and st["errors"]:
                        first = st["errors"][0]
                        if isinstance(first, dict) and first.get("title"):
                            error = str(first["title"])[:200]
                    ours = st.get("biz_opaque_callback_data")
                    out.append(
                        ProviderEvent(
                            f"{wamid}:{raw}",
                            wamid,
                            status,
                            err,
                            error,
                            seconds_to_us(st.get("timestamp"), now),
                            ours if isinstance(ours, str) and ours else None,
                        )
                    )
        return out


MEDIA_TYPES = ("image", "video", "audio", "document", "sticker")


def _reply_content(msg: dict[str, Any]) -> tuple[str, dict[str, Any] | None]:
    """The text and the extra content of one inbound message, by its type."""
    kind = msg.get("type")
    part = msg.get(kind) if isinstance(kind, str) else None
    part = part if isinstance(part, dict) else {}
    if kind == "text":
        return str(part.get("body") or ""), None
    if kind == "button":  # a template's quick-reply button
        label = str(part.get("text") or "")
        return label, {"button": {"payload": part.get("payload"), "text": label}}
    if kind == "interactive":
        reply = part.get("button_reply") or part.get("list_reply")
        reply = reply if isinstance(reply, dict) else {}
        label = str(reply.get("title") or "")
        button = {"payload": reply.get("id"), "text": label, "kind": part.get("type")}
        return label, {"button": button}
    if kind in MEDIA_TYPES:
        media = {
            "kind": kind,
            "id": part.get("id"),
            "mime_type": part.get("mime_type"),
            "filename": part.get("filename"),
        }
        return str(part.get("caption") or ""), {"media": media}
    if kind == "location":
        keys = ("latitude", "longitude", "name", "address")
        return str(part.get("name") or ""), {"location": {k: part.get(k) for k in keys}}
    return "", {"type": str(kind)[:64]}


def inbound_message(msg: object, recipient: str, now_us: int) -> InboundMessage | None:
    """One entry of `value.messages`, or None when it names no message id or sender."""
    if not isinstance(msg, dict):
        return None
    wamid, sender = msg.get("id"), msg.get("from")
    if not isinstance(wamid, str) or not wamid or not isinstance(sender, str) or not sender:
        return None
    text, content = _reply_content(msg)
    return InboundMessage(
        key=wamid[:200],
        channel="whatsapp",
        sender=sender_number(sender),
        recipient=recipient,
        text=text,
        at_us=seconds_to_us(msg.get("timestamp"), now_us),
        content=content,
    )


def signature(app_secret: str, body: bytes) -> str:
    return hmac.new(app_secret.encode(), body, hashlib.sha256).hexdigest()


def _graph_error(resp: httpx.Response) -> tuple[int, str]:
    try:
        err = resp.json().get("error") or {}
        return int(err.get("code") or 0), str(err.get("message") or "")[:200]
    except (ValueError, AttributeError, TypeError):
        return 0, f"HTTP {resp.status_code}"
