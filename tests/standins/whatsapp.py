"""Stand-in of the WhatsApp Business Cloud API (Meta Graph API)."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import itertools
import time
from dataclasses import dataclass, field
from typing import Any

import orjson
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route


@dataclass
class WhatsAppStandin:
    """Behaviour per recipient (`to` digits): "ok" (default), "error:<code>", "rate_limit" (429
    with Retry-After once, then ok), "slow" (answers after `slow_s`)."""

    access_token: str = "wa-token"
    app_secret: str = "wa-app-secret"
    phone_number_id: str = "1055"
    behaviour: dict[str, str] = field(default_factory=dict)
    slow_s: float = 2.0
    received: list[tuple[float, dict[str, Any]]] = field(default_factory=list)
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))
    _limited: set[str] = field(default_factory=set)
    ids: dict[str, str] = field(default_factory=dict)

    def app(self) -> Starlette:
        return Starlette(
            routes=[Route("/{version}/{phone_id}/messages", self._send, methods=["POST"])]
        )

    async def _send(self, request: Request) -> Response:
        if request.headers.get("authorization") != f"Bearer {self.access_token}":
            return _error(401, 190, "Invalid OAuth access token.", "OAuthException")
        if request.path_params["phone_id"] != self.phone_number_id:
            return _error(400, 100, "Unsupported post request.", "GraphMethodException")
        body = orjson.loads(await request.body())
        self.received.append((time.monotonic(), body))
        to = body.get("to", "")
        play = self.behaviour.get(to, "ok")
        if play == "slow":
            await asyncio.sleep(self.slow_s)
        if play == "rate_limit" and to not in self._limited:
            self._limited.add(to)
            return JSONResponse(
                {
                    "error": {
                        "message": "(#130429) Rate limit hit",
                        "type": "OAuthException",
                        "code": 130429,
                        "fbtrace_id": "A1",
                    }
                },
                429,
                headers={"Retry-After": "1"},
            )
        if play.startswith("error:"):
            code = int(play.split(":", 1)[1])
            return _error(400, code, f"(#{code}) Message Undeliverable.", "OAuthException")
        wamid = f"wamid.HBgL{next(self._ids):08d}"
        self.ids[to] = wamid
        return JSONResponse(
            {
                "messaging_product": "whatsapp",
                "contacts": [{"input": to, "wa_id": to}],
                "messages": [{"id": wamid}],
            }
        )

    def wamid_for(self, to_digits: str) -> str:
        """The id the stand-in answered for the last message to this number."""
        return self.ids[to_digits]

    def status_callback(
        self,
        wamid: str,
        status: str,
        to_digits: str,
        errors: list[dict[str, Any]] | None = None,
        opaque: str | None = None,
    ) -> tuple[bytes, dict[str, str]]:
        """A status webhook body and headers, signed as Meta signs them. `opaque`: the
        `biz_opaque_callback_data` the message was sent with (Meta echoes it in its statuses)."""
        st: dict[str, Any] = {
            "id": wamid,
            "status": status,
            "timestamp": str(int(time.time())),
            "recipient_id": to_digits,
        }
        if opaque is not None:
            st["biz_opaque_callback_data"] = opaque
        if errors:
            st["errors"] = errors
        body = orjson.dumps(
            {
                "object": "whatsapp_business_account",
                "entry": [
                    {
                        "id": "WABA-1",
                        "changes": [
                            {
                                "field": "messages",
                                "value": {
                                    "messaging_product": "whatsapp",
                                    "metadata": {
                                        "display_phone_number": "15550001055",
                                        "phone_number_id": self.phone_number_id,
                                    },
                                    "statuses": [st],
                                },
                            }
                        ],
                    }
                ],
            }
        )
        sig = hmac.new(self.app_secret.encode(), body, hashlib.sha256).hexdigest()
        return body, {"Content-Type": "application/json", "X-Hub-Signature-256": f"sha256={sig}"}


def _error(status: int, code: int, message: str, kind: str) -> Response:
    return JSONResponse(
        {"error": {"message": message, "type": kind, "code": code, "fbtrace_id": "A1"}}, status
    )
