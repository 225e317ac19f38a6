"""The OpenAPI operation of the sandbox's simulated replies (issue 13; routes_inbound.py), and
the inbound message body it answers (the same body is POSTed to an account's inbound URL)."""

from __future__ import annotations

from typing import Any

from tidings.core.contract import inbound as ib
from tidings.core.contract.omnimessage import REF_TEMPLATE

__all__ = ["SCHEMA_MODELS", "inbound_paths"]

SCHEMA_MODELS: tuple[Any, ...] = (ib.SandboxInbound, ib.InboundMessageBody)


def _ref(name: str) -> dict[str, str]:
    return {"$ref": REF_TEMPLATE.format(model=name)}


def _ok(description: str, schema: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": _ref(schema)}}}


def inbound_paths() -> dict[str, Any]:
    return {
        "/v1/sandbox/inbound": {
            "post": {
                "operationId": "simulateInbound",
                "tags": ["Sandbox"],
                "summary": "Simulate a recipient's reply",
                "description": "**Tidings extension**, not part of the Messente API. An inbound "
                "message from `from` to the authenticated account, taking the path of a real "
                "one: stored, shown in the console's conversation with that number, and POSTed "
                "(signed, retried) to the account's inbound URL in the body answered here.",
                "requestBody": {
                    "required": True,
                    "content": {"application/json": {"schema": _ref("SandboxInbound")}},
                },
                "responses": {
                    "201": _ok("Stored (and queued for the inbound URL).", "InboundMessageBody"),
                    "400": _ok("Bad field (`source` names it).", "ErrorOmnichannel"),
                    "401": _ok("Missing or wrong credentials.", "ErrorOmnichannel"),
                    "413": _ok("The body is too large.", "ErrorOmnichannel"),
                    "415": _ok("The body is not `application/json`.", "ErrorOmnichannel"),
                },
            }
        }
    }
