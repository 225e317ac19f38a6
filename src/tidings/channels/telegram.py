"""Telegram Bot API.

Telegram cannot address a phone number: a bot may only write to a chat that a user opened. The
store keeps a consented `phone -> chat_id` registry per connector, filled by the bot's webhook:

- a deep link `https://t.me/<bot>?start=<token>`: the token is issued for one phone number
  (`POST /providers/NAME/telegram/links`, account-authenticated) and is single-use;
- a shared contact (`request_contact` keyboard), accepted only when `contact.user_id == from.id`
  (users can forward other people's contacts).

No mapping for the recipient -> `Outcome.REJECTED` (err 9, unroutable) at once, so the fallback
chain continues. Send: `sendMessage` / `sendPhoto` / `sendDocument` / `sendAudio`. The Bot API has
no delivery receipts and no idempotency key: by default a message Telegram accepted is reported
DELIVRD (`accepted_status = "ACK"` leaves the decision to the channel's validity instead).
Webhooks carry `X-Telegram-Bot-Api-Secret-Token` (the `secret_token` given to `setWebhook`).

Inbound messages: any other message in a private chat bound to a phone (text, a caption, media,
a location) and inline-keyboard presses (`callback_query`) become inbound messages from that
phone, keyed `chat_id:message_id` (`cb:<id>` for a press), so a replayed update is recognised.
A message from a chat bound to no phone is logged and dropped: it has no number to answer.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx

from tidings.channels.http_base import (
    HttpConnector,
    HttpSettings,
    InboundRequest,
    ProviderEvent,
    constant_time_equal,
    content_of,
    seconds_to_us,
)
from tidings.core.dispatch import SendJob, SendOutcome
from tidings.core.inbound import InboundMessage
from tidings.core.phone import normalise_msisdn
from tidings.store.base import Store

log = logging.getLogger("tidings.channels")
# Link tokens are `secrets.token_urlsafe(24)`: 32 URL-safe characters.
_LINK_TOKEN = re.compile(r"[A-Za-z0-9_-]{1,64}")

TELEGRAM_URL = "https://api.telegram.org"
CAPTION_MAX = 1024
MEDIA: tuple[tuple[str, str, str], ...] = (
    ("image_url", "sendPhoto", "photo"),
    ("document_url", "sendDocument", "document"),
    ("audio_url", "sendAudio", "audio"),
)


@dataclass(frozen=True, slots=True)
class TelegramSettings:
    bot_token: str
    webhook_secret: str
    bot_username: str = ""
    accepted_status: str = "DELIVRD"  # or "ACK"
    link_ttl_s: int = 7 * 86400
    http: HttpSettings = field(default_factory=lambda: HttpSettings(TELEGRAM_URL))


def telegram_request(chat_id: int, content: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    text = content.get("text")
    for key, method, param in MEDIA:
        url = content.get(key)
        if url:
            body: dict[str, Any] = {"chat_id": chat_id, param: url}
            if text:
                if len(text) > CAPTION_MAX:
                    raise ValueError(f"a Telegram caption is at most {CAPTION_MAX} characters")
                body["caption"] = text
            return method, body
    if not text:
        raise ValueError("telegram content has neither text nor media")
    return "sendMessage", {"chat_id": chat_id, "text": text}


class TelegramConnector(HttpConnector[TelegramSettings]):
    type_name = "telegram"
    webhooks = True

    def __init__(
        self,
        name: str,
        settings: TelegramSettings,
        store: Store,
        now_us: Callable[[], int],
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        super().__init__(name, settings, now_us, transport)
        self.store = store

    def link_url(self, token: str) -> str | None:
        if not self.settings.bot_username:
            return None
        return f"https://t.me/{self.settings.bot_username}?start={token}"

    async def send_one(self, job: SendJob) -> SendOutcome:
        chats = await self.store.providers.telegram_chat_ids(self.name, [job.to])
        chat_id = chats.get(job.to)
        if chat_id is None:
            return self.rejected(job, 9, "no Telegram chat for this number")
        try:
            method, body = telegram_request(chat_id, content_of(job))
        except ValueError as exc:
            return self.rejected(job, 1, str(exc))
        resp = await self.client.post(f"/bot{self.settings.bot_token}/{method}", json=body)
        try:
            data = resp.json()
        except ValueError:
            data = {}
        if not isinstance(data, dict):
            data = {}
        if resp.status_code == 200 and data.get("ok"):
            result = data.get("result") or {}
            ref = f"{chat_id}:{result.get('message_id', job.message_id)}"
            out = self.accepted(job, ref)
            if self.settings.accepted_status == "DELIVRD":
                self.report(job.message_id, "DELIVRD", 0, self._now_us() + 1)
            return out
        description = str(data.get("description") or f"HTTP {resp.status_code}")[:200]
        if resp.status_code == 429:
            params = data.get("parameters") or {}
            after = params.get("retry_after") if isinstance(params, dict) else None
            if isinstance(after, int | float):
                return self.retry(job, float(after), description)
            return self.retry_from(job, resp)
        if resp.status_code >= 500:
            return self.retry_from(job, resp)
        if resp.status_code == 403 or "chat not found" in description.lower():
            await self.store.providers.forget_telegram_chat(self.name, chat_id)
            return self.rejected(job, 9, description)
        if resp.status_code in (401, 404):
            return self.rejected(job, 999, f"Telegram refused the bot token: {description}")
        return self.rejected(job, 1, description)

    # -- callbacks: the bot's updates (bindings only; Telegram sends no delivery receipts) ------

    def authenticate(self, request: InboundRequest) -> bool | None:
        given = request.headers.get("x-telegram-bot-api-secret-token")
        if not given:
            return None
        return constant_time_equal(given, self.settings.webhook_secret)

    async def events(self, request: InboundRequest) -> list[ProviderEvent | InboundMessage]:
        update = request.json()
        if not isinstance(update, dict):
            raise ValueError("not a Telegram update")
        press = update.get("callback_query")
        if isinstance(press, dict):
            return await self._button_press(press)
        msg = update.get("message")
        if not isinstance(msg, dict):
            return []
        chat = msg.get("chat") or {}
        sender = msg.get("from") or {}
        chat_id = chat.get("id")
        if not isinstance(chat_id, int) or chat.get("type", "private") != "private":
            return []
        now = self._now_us()
        text = msg.get("text")
        if isinstance(text, str) and text.startswith("/start "):
            token = text.split(" ", 1)[1].strip()
            if not _LINK_TOKEN.fullmatch(token):  # not one we issued (nor one a database takes)
                log.info("action=telegram_link connector=%s bound=False", self.name)
                return []
            phone = await self.store.providers.redeem_telegram_link(self.name, token, chat_id, now)
            log.info("action=telegram_link connector=%s bound=%s", self.name, phone is not None)
            return []
        contact = msg.get("contact")
        if isinstance(contact, dict):
            uid = contact.get("user_id")
            if not isinstance(uid, int) or uid != sender.get("id"):
                log.info("action=telegram_contact_refused connector=%s", self.name)
                return []
            raw = str(contact.get("phone_number") or "")
            try:
                phone = normalise_msisdn(raw if raw.startswith("+") else "+" + raw)
            except ValueError:
                return []
            await self.store.providers.bind_telegram_chat(self.name, phone, chat_id, "contact", now)
            log.info("action=telegram_contact_bound connector=%s", self.name)
            return []
        return await self._message(msg, chat_id, now)

    @property
    def recipient(self) -> str:
        """Our side of a conversation: the bot."""
        return f"@{self.settings.bot_username}" if self.settings.bot_username else self.name

    async def _sender(self, chat_id: int) -> str | None:
        phone = await self.store.providers.telegram_phone(self.name, chat_id)
        if phone is None:
            log.info("action=telegram_message_unbound connector=%s", self.name)
        return phone

    async def _message(
        self, msg: dict[str, Any], chat_id: int, now: int
    ) -> list[ProviderEvent | InboundMessage]:
        message_id = msg.get("message_id")
        if not isinstance(message_id, int) or (phone := await self._sender(chat_id)) is None:
            return []
        text = msg.get("text") if isinstance(msg.get("text"), str) else msg.get("caption")
        return [
            InboundMessage(
                key=f"{chat_id}:{message_id}",
                channel="telegram",
                sender=phone,
                recipient=self.recipient,
                text=text if isinstance(text, str) else "",
                at_us=seconds_to_us(msg.get("date"), now),
                content=_telegram_extra(msg),
            )
        ]

    async def _button_press(self, press: dict[str, Any]) -> list[ProviderEvent | InboundMessage]:
        ident, data = press.get("id"), press.get("data")
        chat = (press.get("message") or {}).get("chat") or {}
        chat_id = chat.get("id") if isinstance(chat, dict) else None
        if not isinstance(ident, str) or not isinstance(chat_id, int):
            return []
        if (phone := await self._sender(chat_id)) is None:
            return []
        payload = data if isinstance(data, str) else ""
        return [
            InboundMessage(
                key=f"cb:{ident}"[:200],
                channel="telegram",
                sender=phone,
                recipient=self.recipient,
                text=payload,
                at_us=self._now_us(),
                content={"button": {"payload": payload}},
            )
        ]


_TELEGRAM_MEDIA = ("document", "audio", "voice", "video", "video_note", "animation", "sticker")


def _telegram_extra(msg: dict[str, Any]) -> dict[str, Any] | None:
    """What a Telegram message carries besides its text: media (by file id) or a location."""
    photo = msg.get("photo")
    if isinstance(photo, list) and photo and isinstance(photo[-1], dict):
        return {"media": {"kind": "image", "id": photo[-1].get("file_id")}}
    for kind in _TELEGRAM_MEDIA:
        part = msg.get(kind)
        if isinstance(part, dict):
            return {
                "media": {
                    "kind": kind,
                    "id": part.get("file_id"),
                    "mime_type": part.get("mime_type"),
                }
            }
    location = msg.get("location")
    if isinstance(location, dict):
        return {"location": {k: location.get(k) for k in ("latitude", "longitude")}}
    return None
