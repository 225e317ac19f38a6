"""Messente relay: forward each channel message as a one-channel omnimessage to an upstream
Messente-compatible API (Messente itself, or another Tidings).

Send: `POST {base}/omnimessage` with HTTP Basic auth, `{"to", "messages": [<our channel object>],
"dlr_url"}`; the upstream's `message_id` becomes our provider ref. Our own engine walks the
fallback chain, so the upstream only ever sees one channel per omnimessage. The upstream API has
no idempotency key: a timeout after sending is UNKNOWN and never resent.

Callbacks: the upstream's delivery reports, `X-Messente-Signature` = HMAC-SHA256 of the raw body
keyed with the upstream API password (or a configured signing secret; a Tidings upstream signs
with the account's signing secret). Hex and base64 encodings are both accepted. The upstream's
inbound messages (`msg_id`, `sender`, ...; no `status`) posted to the same URL and signed with
the same key are inbound messages, keyed by `msg_id`.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import math
from dataclasses import dataclass, field
from datetime import datetime

import httpx

from tidings.channels.http_base import (
    HttpConnector,
    HttpSettings,
    InboundRequest,
    ProviderEvent,
    constant_time_equal,
    content_of,
)
from tidings.core.dispatch import SendJob, SendOutcome
from tidings.core.inbound import InboundMessage, sender_number
from tidings.core.model import CHANNELS, ERR_TEXT
from tidings.core.model import STATUSES as ALL_STATUSES

MESSENTE_URL = "https://api.messente.com/v1"
STATUSES = frozenset(ALL_STATUSES) - {"DELETED"}
ERRS = frozenset(ERR_TEXT)


@dataclass(frozen=True, slots=True)
class MessenteSettings:
    username: str
    password: str
    dlr_url: str | None = None  # where the upstream posts reports: .../providers/NAME/webhook
    signing_secret: str | None = None  # defaults to the password (Messente's own scheme)
    text_store: str = "plaintext"
    http: HttpSettings = field(default_factory=lambda: HttpSettings(MESSENTE_URL))


class MessenteRelayConnector(HttpConnector[MessenteSettings]):
    type_name = "messente"
    webhooks = True

    async def send_one(self, job: SendJob) -> SendOutcome:
        s = self.settings
        channel = {
            **content_of(job),
            "channel": job.channel,
            "sender": job.sender,
            "validity": max(1, math.ceil(job.validity_s / 60)),
        }
        body: dict[str, object] = {"to": job.to, "messages": [channel], "text_store": s.text_store}
        if s.dlr_url:
            body["dlr_url"] = s.dlr_url
        resp = await self.client.post(
            "/omnimessage", json=body, auth=httpx.BasicAuth(s.username, s.password)
        )
        if resp.status_code == 201:
            try:
                ref = resp.json()["messages"][0]["message_id"]
            except (ValueError, LookupError, TypeError):
                return self.accepted(job, job.message_id)
            return self.accepted(job, str(ref))
        if resp.status_code == 429 or resp.status_code >= 500:
            return self.retry_from(job, resp)
        detail, code, source = _first_error(resp)
        if resp.status_code in (401, 403):
            return self.rejected(job, 999, f"upstream refused the credentials: {detail}")
        err = 5 if source == "to" or (source or "").endswith(".to") else 1
        if source and source.endswith("sender"):
            err = 7
        return self.rejected(job, err, f"upstream {resp.status_code} ({code}): {detail}"[:200])

    # -- callbacks ---------------------------------------------------------------------------

    def authenticate(self, request: InboundRequest) -> bool | None:
        given = request.headers.get("x-messente-signature")
        if not given:
            return None
        key = (self.settings.signing_secret or self.settings.password).encode()
        mac = hmac.new(key, request.body, hashlib.sha256)
        given = given.strip()
        return constant_time_equal(given.lower(), mac.hexdigest()) or constant_time_equal(
            given, base64.b64encode(mac.digest()).decode()
        )

    async def events(self, request: InboundRequest) -> list[ProviderEvent | InboundMessage]:
        body = request.json()
        items = body if isinstance(body, list) else [body]
        out: list[ProviderEvent | InboundMessage] = []
        for d in items:
            if not isinstance(d, dict):
                raise ValueError("not a delivery report")
            if "status" not in d and isinstance(d.get("msg_id"), str):
                if (inbound := _inbound(d, self._now_us())) is not None:
                    out.append(inbound)
                continue
            ref, status, err = d.get("message_id"), d.get("status"), d.get("err")
            if not isinstance(ref, str) or status not in STATUSES:
                continue
            if not isinstance(err, int) or err not in ERRS:
                err = (
                    0 if status in ("ACK", "DELIVRD", "ACCEPTD") else 10 if status == "SEEN" else 1
                )
            error = d.get("error") if isinstance(d.get("error"), str) else None
            out.append(
                ProviderEvent(
                    f"{ref}:{status}",
                    ref,
                    status,
                    err,
                    error,
                    _ts(d.get("timestamp"), self._now_us()),
                )
            )
        return out


def _inbound(d: dict[str, object], now_us: int) -> InboundMessage | None:
    """The upstream's inbound message (Messente's format: `msg_id`, `channel`, `recipient`,
    `time`, `text`, `sender`), keyed by its `msg_id`."""
    ident, sender = d.get("msg_id"), d.get("sender")
    if not isinstance(ident, str) or not ident or not isinstance(sender, str) or not sender:
        return None
    channel = d.get("channel")
    text = d.get("text")
    return InboundMessage(
        key=ident[:200],
        channel=channel if isinstance(channel, str) and channel in CHANNELS else "sms",
        sender=sender_number(sender),
        recipient=str(d.get("recipient") or ""),
        text=text if isinstance(text, str) else "",
        at_us=_ts(d.get("time"), now_us),
    )


def _ts(value: object, default_us: int) -> int:
    if not isinstance(value, str):
        return default_us
    try:
        return int(datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp() * 1_000_000)
    except ValueError:
        return default_us


def _first_error(resp: httpx.Response) -> tuple[str, str, str | None]:
    try:
        e = resp.json()["errors"][0]
        return str(e.get("detail") or e.get("title") or ""), str(e.get("code")), e.get("source")
    except (ValueError, LookupError, TypeError, AttributeError):
        return f"HTTP {resp.status_code}", "", None
