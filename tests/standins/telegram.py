"""Stand-in of the Telegram Bot API (sendMessage / sendPhoto / sendDocument / sendAudio)."""

from __future__ import annotations

import itertools
import time
from dataclasses import dataclass, field
from typing import Any

import orjson
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

METHODS = ("sendMessage", "sendPhoto", "sendDocument", "sendAudio")


@dataclass
class TelegramStandin:
    """Behaviour per chat id: "ok" (default), "blocked" (403), "rate_limit" (429 once)."""

    bot_token: str = "123456:bot-token"
    webhook_secret: str = "tg-webhook-secret"
    behaviour: dict[int, str] = field(default_factory=dict)
    received: list[tuple[float, str, dict[str, Any]]] = field(default_factory=list)
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(100))
    _updates: itertools.count[int] = field(default_factory=lambda: itertools.count(5000))
    _limited: set[int] = field(default_factory=set)

    def app(self) -> Starlette:
        return Starlette(routes=[Route("/bot{token}/{method}", self._call, methods=["POST"])])

    async def _call(self, request: Request) -> Response:
        if request.path_params["token"] != self.bot_token:
            return JSONResponse({"ok": False, "error_code": 404, "description": "Not Found"}, 404)
        method = request.path_params["method"]
        if method not in METHODS:
            return JSONResponse({"ok": False, "error_code": 404, "description": "Not Found"}, 404)
        body = orjson.loads(await request.body())
        self.received.append((time.monotonic(), method, body))
        chat_id = body.get("chat_id")
        play = self.behaviour.get(chat_id, "ok") if isinstance(chat_id, int) else "ok"
        if play == "blocked":
            return JSONResponse(
                {
                    "ok": False,
                    "error_code": 403,
                    "description": "Forbidden: bot was blocked by the user",
                },
                403,
            )
        if play == "rate_limit" and chat_id not in self._limited:
            self._limited.add(chat_id)
            return JSONResponse(
                {
                    "ok": False,
                    "error_code": 429,
                    "description": "Too Many Requests: retry after 1",
                    "parameters": {"retry_after": 1},
                },
                429,
            )
        return JSONResponse(
            {
                "ok": True,
                "result": {
                    "message_id": next(self._ids),
                    "date": int(time.time()),
                    "chat": {"id": chat_id, "type": "private"},
                    "text": body.get("text"),
                },
            }
        )

    def update(
        self, message: dict[str, Any], secret: str | None = None
    ) -> tuple[bytes, dict[str, str]]:
        """A webhook update as Telegram posts it, with the secret token header."""
        body = orjson.dumps({"update_id": next(self._updates), "message": message})
        headers = {"Content-Type": "application/json"}
        headers["X-Telegram-Bot-Api-Secret-Token"] = (
            secret if secret is not None else self.webhook_secret
        )
        return body, headers

    @staticmethod
    def start_message(chat_id: int, token: str) -> dict[str, Any]:
        return {
            "message_id": 1,
            "from": {"id": chat_id, "is_bot": False, "first_name": "Mari"},
            "chat": {"id": chat_id, "type": "private", "first_name": "Mari"},
            "date": int(time.time()),
            "text": f"/start {token}",
            "entities": [{"offset": 0, "length": 6, "type": "bot_command"}],
        }

    @staticmethod
    def contact_message(chat_id: int, phone: str, user_id: int) -> dict[str, Any]:
        return {
            "message_id": 2,
            "from": {"id": chat_id, "is_bot": False, "first_name": "Mari"},
            "chat": {"id": chat_id, "type": "private", "first_name": "Mari"},
            "date": int(time.time()),
            "contact": {"phone_number": phone, "first_name": "Mari", "user_id": user_id},
        }
