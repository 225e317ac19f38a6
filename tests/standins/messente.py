"""Stand-in of an upstream Messente Omnichannel API (`POST /v1/omnimessage`, signed DLRs)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import orjson
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route


def _err(status: int, code: str, title: str, detail: str, source: str | None) -> Response:
    return JSONResponse(
        {"errors": [{"title": title, "detail": detail, "code": code, "source": source}]}, status
    )


@dataclass
class MessenteStandin:
    """Behaviour per `to`: "ok" (default), "invalid" (400 on `to`), "rate_limit" (429 once)."""

    username: str = "upstream-user"
    password: str = "upstream-password"
    behaviour: dict[str, str] = field(default_factory=dict)
    received: list[dict[str, Any]] = field(default_factory=list)
    sent: dict[str, dict[str, Any]] = field(default_factory=dict)  # upstream message id -> info
    _limited: set[str] = field(default_factory=set)

    def app(self) -> Starlette:
        return Starlette(routes=[Route("/v1/omnimessage", self._send, methods=["POST"])])

    async def _send(self, request: Request) -> Response:
        expected = "Basic " + base64.b64encode(f"{self.username}:{self.password}".encode()).decode()
        if request.headers.get("authorization") != expected:
            return _err(401, "103", "Unauthorized", "Invalid credentials", None)
        body = orjson.loads(await request.body())
        self.received.append(body)
        to = body.get("to", "")
        play = self.behaviour.get(to, "ok")
        if play == "invalid":
            return _err(400, "105", "Invalid data", "Invalid phone number", "to")
        if play == "rate_limit" and to not in self._limited:
            self._limited.add(to)
            return _err(429, "104", "Too many requests", "Slow down", None)
        omni_id = str(uuid.uuid4())
        messages = []
        for m in body["messages"]:
            mid = str(uuid.uuid4())
            self.sent[mid] = {
                "to": to,
                "channel": m["channel"],
                "sender": m.get("sender"),
                "omnimessage_id": omni_id,
            }
            messages.append(
                {
                    "message_id": mid,
                    "channel": m["channel"],
                    "sender": m.get("sender") or "Upstream",
                }
            )
        return JSONResponse({"messages": messages, "to": to, "omnimessage_id": omni_id}, 201)

    def last_message_id(self) -> str:
        return list(self.sent)[-1]

    def dlr(
        self, message_id: str, status: str, err: int = 0, key: str | None = None
    ) -> tuple[bytes, dict[str, str]]:
        """A delivery report as Messente posts it, signed with the API password."""
        info = self.sent[message_id]
        body = orjson.dumps(
            {
                "status": status,
                "sender": info["sender"],
                "err": err,
                "message_id": message_id,
                "to": info["to"],
                "channel": info["channel"],
                "error": None if err == 0 else "Delivery failure",
                "omnimessage_id": info["omnimessage_id"],
                "timestamp": datetime.now(UTC).isoformat(),
            }
        )
        sig = hmac.new((key or self.password).encode(), body, hashlib.sha256).hexdigest()
        return body, {"Content-Type": "application/json", "X-Messente-Signature": sig}
