"""Stand-in of Infobip's Viber Business Messages API (`POST /viber/2/messages`, App-key auth).

Request, answer, error and report shapes follow Infobip's published API (the models its
generated SDKs carry): the send answer `{"bulkId"?, "messages": [{"messageId", "status"
{groupId, groupName, id, name, description}, "destination"}]}`, errors `{"errorCode",
"description", "action", "violations": [{"property", "violation"}]}`, delivery reports
`{"results": [{"messageId", "to", "sentAt", "doneAt", "status" {...}, "error" {...}}]}`, seen
reports `{"results": [{"messageId", "from", "to", "sentAt", "seenAt"}]}`. Infobip does not sign
reports: they are posted to the webhook URL given with the message (which carries our token).
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

import orjson
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

STATUS_GROUPS = {"PENDING": 1, "UNDELIVERABLE": 2, "DELIVERED": 3, "EXPIRED": 4, "REJECTED": 5}
STATUS_NAMES = {
    "PENDING": "PENDING_ENROUTE",
    "UNDELIVERABLE": "UNDELIVERABLE_NOT_DELIVERED",
    "DELIVERED": "DELIVERED_TO_HANDSET",
    "EXPIRED": "EXPIRED_EXPIRED",
    "REJECTED": "REJECTED_DESTINATION",
}


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "+0000"


def _api_error(status: int, description: str, violations: list[dict[str, str]]) -> Response:
    return JSONResponse(
        {
            "errorCode": f"E{status}",
            "description": description,
            "action": "Check the syntax, violations and adjust the request.",
            "violations": violations,
            "resources": [],
        },
        status,
    )


@dataclass
class InfobipViberStandin:
    """Behaviour per recipient (`to` digits): "ok" (default), "rate_limit" (429 with Retry-After
    once, then ok), "slow" (answers after `slow_s`), "invalid" (400, violation on `to`),
    "rejected" (200 with a REJECTED_DESTINATION status)."""

    api_key: str = "ib-api-key"
    behaviour: dict[str, str] = field(default_factory=dict)
    slow_s: float = 2.0
    received: list[tuple[float, dict[str, Any]]] = field(default_factory=list)
    messages: dict[str, dict[str, Any]] = field(default_factory=dict)  # messageId -> message
    _limited: set[str] = field(default_factory=set)

    def app(self) -> Starlette:
        return Starlette(routes=[Route("/viber/2/messages", self._send, methods=["POST"])])

    async def _send(self, request: Request) -> Response:
        if request.headers.get("authorization") != f"App {self.api_key}":
            return _api_error(401, "Invalid login details", [])
        body = orjson.loads(await request.body())
        self.received.append((time.monotonic(), body))
        message = body["messages"][0]
        dest = message["destinations"][0]
        to = dest["to"]
        play = self.behaviour.get(to, "ok")
        if play == "slow":
            await asyncio.sleep(self.slow_s)
        if play == "rate_limit" and to not in self._limited:
            self._limited.add(to)
            return JSONResponse(
                {"errorCode": "E429", "description": "Too many requests", "violations": []},
                429,
                headers={"Retry-After": "1"},
            )
        if play == "invalid":
            return _api_error(
                400,
                "Request cannot be processed.",
                [
                    {
                        "property": "messages[0].destinations[0].to",
                        "violation": "invalid destination address",
                    }
                ],
            )
        mid = dest.get("messageId") or f"ib-{len(self.received)}"
        self.messages[mid] = message
        group = "REJECTED" if play == "rejected" else "PENDING"
        return JSONResponse(
            {
                "bulkId": f"bulk-{len(self.received)}",
                "messages": [
                    {
                        "messageId": mid,
                        "status": {
                            "groupId": STATUS_GROUPS[group],
                            "groupName": group,
                            "id": 26 if group == "PENDING" else 51,
                            "name": "PENDING_ACCEPTED"
                            if group == "PENDING"
                            else STATUS_NAMES[group],
                            "description": "Message sent to next instance"
                            if group == "PENDING"
                            else "Destination address is not valid",
                        },
                        "destination": to,
                    }
                ],
            },
            200,
        )

    def last(self) -> dict[str, Any]:
        message: dict[str, Any] = self.received[-1][1]["messages"][0]
        return message

    def callback_target(self, message_id: str, kind: str = "delivery") -> str:
        """Path and query of the webhook URL the message asked its reports to go to."""
        url = self.messages[message_id]["webhooks"][kind]["url"]
        parts = urlsplit(url)
        return f"{parts.path}?{parts.query}" if parts.query else parts.path

    def delivery_report(
        self, message_id: str, group: str, error: dict[str, Any] | None = None
    ) -> tuple[bytes, dict[str, str]]:
        message = self.messages[message_id]
        result: dict[str, Any] = {
            "bulkId": "bulk-1",
            "messageId": message_id,
            "to": message["destinations"][0]["to"],
            "sentAt": _now(),
            "doneAt": _now(),
            "messageCount": 1,
            "price": {"pricePerMessage": 0.01, "currency": "EUR"},
            "status": {
                "groupId": STATUS_GROUPS[group],
                "groupName": group,
                "id": 5,
                "name": STATUS_NAMES[group],
                "description": f"Message {group.lower()}",
            },
            "error": error
            or {
                "groupId": 0,
                "groupName": "OK",
                "id": 0,
                "name": "NO_ERROR",
                "description": "No Error",
                "permanent": False,
            },
            "channel": "VIBER_BM",
        }
        return orjson.dumps({"results": [result]}), {"Content-Type": "application/json"}

    def seen_report(self, message_id: str) -> tuple[bytes, dict[str, str]]:
        message = self.messages[message_id]
        result = {
            "messageId": message_id,
            "from": message["sender"],
            "to": message["destinations"][0]["to"],
            "sentAt": _now(),
            "seenAt": _now(),
        }
        return orjson.dumps({"results": [result]}), {"Content-Type": "application/json"}
