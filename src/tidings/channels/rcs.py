"""RCS via Google RCS Business Messaging (RBM).

Send: `POST {base}/v1/phones/{msisdn}/agentMessages?messageId=<our message id>&agentId=<agent>`
with an OAuth2 access token. The token comes from the service account: an RS256-signed JWT
(`iss` = client_email, `scope` = rcsbusinessmessaging, `aud` = token URI) exchanged at the token
URI (`grant_type=urn:ietf:params:oauth:grant-type:jwt-bearer`), cached until shortly before it
expires. `messageId` is our message id, so RBM itself de-duplicates a resend (409 ALREADY_EXISTS
counts as accepted). Our `rcs` content is Google's `contentMessage` in snake_case: it is converted
key by key to camelCase. A 404 means the device cannot receive RCS: REJECTED (err 9) at once, so
the fallback chain moves on.

Callbacks (Google's documented scheme): a one-off `POST {"clientToken", "secret"}` when the webhook
is configured (answer the secret as plain text if the client token matches), then Pub/Sub-style
envelopes `{"message": {"data": <base64 JSON event>, ...}}` with
`X-Goog-Signature: base64(HMAC-SHA512(clientToken, base64-decoded message.data))`. Events
`DELIVERED` -> DELIVRD, `READ` -> SEEN; their `messageId` is our message id. A user message
(`senderPhoneNumber` with `text`, a `suggestionResponse` postback, a `userFile` or a `location`)
is an inbound message keyed by its own `messageId`.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hashlib
import hmac
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from urllib.parse import quote

import httpx
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from tidings.channels.http_base import (
    HttpConnector,
    HttpSettings,
    InboundRequest,
    ProviderEvent,
    WebhookReply,
    constant_time_equal,
    content_of,
)
from tidings.core.dispatch import SendJob, SendOutcome
from tidings.core.inbound import InboundMessage, sender_number

RBM_URL = "https://rcsbusinessmessaging.googleapis.com"
TOKEN_URI = "https://oauth2.googleapis.com/token"
SCOPE = "https://www.googleapis.com/auth/rcsbusinessmessaging"
EVENT_MAP = {"DELIVERED": ("DELIVRD", 0), "READ": ("SEEN", 10)}


@dataclass(frozen=True, slots=True)
class ServiceAccount:
    client_email: str
    private_key: rsa.RSAPrivateKey
    private_key_id: str = ""
    token_uri: str = ""


def load_service_account(text: str) -> ServiceAccount:
    """Parse a Google service-account JSON key file (ValueError says what is wrong)."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError:
        raise ValueError("the service account key is not JSON") from None
    if not isinstance(data, dict):
        raise ValueError("the service account key is not a JSON object")
    email, pem = data.get("client_email"), data.get("private_key")
    if not isinstance(email, str) or not isinstance(pem, str):
        raise ValueError("the service account key needs client_email and private_key")
    try:
        key = serialization.load_pem_private_key(pem.encode(), password=None)
    except (ValueError, TypeError):
        raise ValueError("the service account private_key is not a PEM private key") from None
    if not isinstance(key, rsa.RSAPrivateKey):
        raise ValueError("the service account private_key is not an RSA key")
    return ServiceAccount(
        email, key, str(data.get("private_key_id") or ""), str(data.get("token_uri") or "")
    )


def _b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def service_account_jwt(sa: ServiceAccount, token_uri: str, now_s: int) -> str:
    header = {"alg": "RS256", "typ": "JWT"}
    if sa.private_key_id:
        header["kid"] = sa.private_key_id
    claims = {
        "iss": sa.client_email,
        "scope": SCOPE,
        "aud": token_uri,
        "iat": now_s,
        "exp": now_s + 3600,
    }
    signing_input = (
        _b64url(json.dumps(header, separators=(",", ":")).encode())
        + "."
        + _b64url(json.dumps(claims, separators=(",", ":")).encode())
    )
    sig = sa.private_key.sign(signing_input.encode(), padding.PKCS1v15(), hashes.SHA256())
    return signing_input + "." + _b64url(sig)


@dataclass(frozen=True, slots=True)
class RcsSettings:
    """`token_uri` is where the service-account JWT is exchanged for an access token: a
    setting of its own, since `http.base_url` moves only the RBM API (e.g. to a proxy)."""

    agent_id: str
    service_account: ServiceAccount
    client_token: str
    token_uri: str = TOKEN_URI
    http: HttpSettings = field(default_factory=lambda: HttpSettings(RBM_URL))


def _camel(key: str) -> str:
    head, *rest = key.split("_")
    return head + "".join(p[:1].upper() + p[1:] for p in rest)


def to_camel(value: Any) -> Any:
    if isinstance(value, dict):
        return {_camel(k): to_camel(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [to_camel(v) for v in value]
    return value


def rbm_message(content: dict[str, Any], validity_s: int) -> dict[str, Any]:
    msg = {
        k: v
        for k, v in content.items()
        if k in ("text", "rich_card", "content_info", "suggestions")
    }
    if not any(k in msg for k in ("text", "rich_card", "content_info")):
        raise ValueError("rcs content needs text, rich_card or content_info")
    return {"contentMessage": to_camel(msg), "ttl": f"{max(1, validity_s)}s"}


class RcsConnector(HttpConnector[RcsSettings]):
    type_name = "rcs"
    webhooks = True

    def __init__(
        self,
        name: str,
        settings: RcsSettings,
        now_us: Callable[[], int],
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        super().__init__(name, settings, now_us, transport)
        self._token: tuple[str, float] | None = None  # (access token, expires at, monotonic)
        self._token_lock = asyncio.Lock()

    async def _access_token(self) -> str:
        async with self._token_lock:
            if self._token is not None and self._token[1] > time.monotonic():
                return self._token[0]
            s = self.settings
            assertion = service_account_jwt(s.service_account, s.token_uri, int(time.time()))
            resp = await self.client.post(
                s.token_uri,
                data={
                    "grant_type": "urn:ietf:params:oauth:grant-type:jwt-bearer",
                    "assertion": assertion,
                },
            )
            if resp.status_code != 200:
                raise _TokenError(resp.status_code, resp.text[:200])
            body = resp.json()
            token = str(body["access_token"])
            ttl = float(body.get("expires_in", 3600))
            self._token = (token, time.monotonic() + max(0.0, ttl - 60))
            return token

    async def send_one(self, job: SendJob) -> SendOutcome:
        s = self.settings
        try:
            body = rbm_message(content_of(job), job.validity_s)
        except ValueError as exc:
            return self.rejected(job, 1, str(exc))
        try:
            token = await self._access_token()
        except _TokenError as exc:
            if exc.status >= 500 or exc.status == 429:
                return self.retry(job, None, f"token endpoint answered {exc.status}")
            return self.rejected(job, 999, f"RBM token refused ({exc.status}): {exc.detail}")
        resp = await self.client.post(
            f"/v1/phones/{quote(job.to, safe='+')}/agentMessages",
            params={"messageId": job.message_id, "agentId": s.agent_id},
            json=body,
            headers={"Authorization": f"Bearer {token}"},
        )
        code = resp.status_code
        if code == 200 or code == 409:  # 409 ALREADY_EXISTS: this message id was sent before
            return self.accepted(job, job.message_id)
        if code == 404:
            return self.rejected(job, 9, "device cannot receive RCS")
        if code == 401:
            self._token = None
            return self.retry(job, None, "RBM access token rejected")
        if code == 429 or code >= 500:
            return self.retry_from(job, resp)
        if code == 403:
            return self.rejected(job, 999, "RBM permission denied")
        return self.rejected(job, 1, f"RBM answered {code}")

    # -- callbacks ---------------------------------------------------------------------------

    def post_handshake(self, request: InboundRequest) -> WebhookReply | None:
        try:
            body = json.loads(request.body)
        except ValueError:
            return None
        if not isinstance(body, dict) or "clientToken" not in body or "secret" not in body:
            return None
        if constant_time_equal(str(body["clientToken"]), self.settings.client_token):
            return WebhookReply(200, str(body["secret"]).encode())
        return WebhookReply(403, b"client token mismatch")

    def authenticate(self, request: InboundRequest) -> bool | None:
        given = request.headers.get("x-goog-signature")
        if not given:
            return None
        data = _message_data(request)
        if data is None:
            return False
        mac = hmac.new(self.settings.client_token.encode(), data, hashlib.sha512).digest()
        return constant_time_equal(given.strip(), base64.b64encode(mac).decode())

    async def events(self, request: InboundRequest) -> list[ProviderEvent | InboundMessage]:
        data = _message_data(request)
        if data is None:
            raise ValueError("not an RBM envelope")
        try:
            event = json.loads(data)
        except ValueError:
            raise ValueError("message.data is not JSON") from None
        if not isinstance(event, dict):
            return []
        if isinstance(event.get("senderPhoneNumber"), str) and "eventType" not in event:
            user = self._user_message(event)
            return [user] if user is not None else []
        kind, ref = event.get("eventType"), event.get("messageId")
        if kind not in EVENT_MAP or not isinstance(ref, str):
            return []  # IS_TYPING, user messages: nothing to report
        status, err = EVENT_MAP[kind]
        key = str(event.get("eventId") or f"{ref}:{kind}")
        return [
            ProviderEvent(key, ref, status, err, None, _ts(event.get("sendTime"), self._now_us()))
        ]

    def _user_message(self, event: dict[str, Any]) -> InboundMessage | None:
        ident = event.get("messageId")
        if not isinstance(ident, str) or not ident:
            return None
        text = event.get("text") if isinstance(event.get("text"), str) else ""
        content: dict[str, Any] | None = None
        suggestion = event.get("suggestionResponse")
        if isinstance(suggestion, dict):
            text = str(suggestion.get("text") or "")
            content = {
                "postback": {"data": suggestion.get("postbackData"), "type": suggestion.get("type")}
            }
        elif isinstance(event.get("userFile"), dict):
            payload = event["userFile"].get("payload") or {}
            payload = payload if isinstance(payload, dict) else {}
            content = {
                "media": {
                    "kind": "file",
                    "url": payload.get("fileUri"),
                    "mime_type": payload.get("mimeType"),
                }
            }
        elif isinstance(event.get("location"), dict):
            content = {"location": event["location"]}
        return InboundMessage(
            key=ident[:200],
            channel="rcs",
            sender=sender_number(event["senderPhoneNumber"]),
            recipient=self.settings.agent_id,
            text=str(text),
            at_us=_ts(event.get("sendTime"), self._now_us()),
            content=content,
        )


class _TokenError(Exception):
    def __init__(self, status: int, detail: str) -> None:
        super().__init__(f"{status}: {detail}")
        self.status, self.detail = status, detail


def _message_data(request: InboundRequest) -> bytes | None:
    try:
        body = json.loads(request.body)
        return base64.b64decode(body["message"]["data"], validate=True)
    except (ValueError, KeyError, TypeError, binascii.Error):
        return None


def _ts(value: object, default_us: int) -> int:
    if not isinstance(value, str):
        return default_us
    v = value.replace("Z", "+00:00")
    if "." in v:  # RFC 3339 may carry nanoseconds; Python reads at most microseconds
        head, _, tail = v.partition(".")
        frac = "".join(ch for ch in tail if ch.isdigit())
        v = f"{head}.{frac[:6]}{tail[len(frac) :]}"
    try:
        return int(datetime.fromisoformat(v).timestamp() * 1_000_000)
    except ValueError:
        return default_us
