"""The OpenAPI 3.1 document of the contract the server really implements.

`openapi_document()` is served at ``/openapi.json`` (and rendered at ``/docs`` by `docs_page`).
Every schema is generated from the contract models (`tidings.core.contract`), the same
declarations requests are validated against, so the document cannot disagree with the validator.
What is written here is only what a schema does not carry: paths, operations, status codes.
"""

from __future__ import annotations

import functools
from typing import Any

from pydantic import TypeAdapter
from pydantic.json_schema import GenerateJsonSchema
from pydantic_core import CoreSchema

from tidings.core.contract import responses as r
from tidings.core.contract.omnimessage import REF_TEMPLATE, BulkOmnimessage, Omnimessage
from tidings.core.contract.types import TIME_PATTERN
from tidings.core.model import Limits
from tidings.web.api import openapi_inbound, openapi_phonebook, openapi_schedule
from tidings.web.api.routes_messages import SANDBOX_LIMIT_DEFAULT, SANDBOX_LIMIT_MAX
from tidings.web.api.routes_schedule import LIST_LIMIT_DEFAULT, LIST_LIMIT_MAX
from tidings.web.context import ApiSettings

__all__ = ["SCHEMA_MODELS", "TITLE", "openapi_document"]

TITLE = "Tidings — Messente Omnichannel API v1 compatible"

_LIMITS = Limits()
_API = ApiSettings()

# The published schemas; every other one (the channel objects, ...) is reached from these.
SCHEMA_MODELS: tuple[Any, ...] = (
    Omnimessage,
    BulkOmnimessage,
    r.MessageResult,
    r.OmniMessageCreateSuccessResponse,
    r.BulkOmniMessageCreateSuccessResponse,
    r.EmptyObject,
    r.DeliveryReportResponse,
    r.DeliveryResult,
    r.PriceInfo,
    r.DeliveryReportWebhook,
    r.SandboxMessage,
    r.SandboxMessageList,
    r.Health,
    r.ErrorOmnichannel,
    r.ErrorItemOmnichannel,
    *openapi_schedule.SCHEMA_MODELS,
    *openapi_phonebook.SCHEMA_MODELS,
    *openapi_inbound.SCHEMA_MODELS,
)


class _Generator(GenerateJsonSchema):
    """Pydantic's generator without a title on every property (the name says it)."""

    def field_title_should_be_set(self, schema: CoreSchema) -> bool:
        return False


def component_schemas() -> dict[str, Any]:
    """Every schema of `components.schemas`, generated from the contract models."""
    _, top = TypeAdapter.json_schemas(
        [(model.__name__, "validation", TypeAdapter(model)) for model in SCHEMA_MODELS],
        ref_template=REF_TEMPLATE,
        schema_generator=_Generator,
    )
    schemas: dict[str, Any] = top["$defs"]
    return schemas


def _ref(name: str) -> dict[str, str]:
    return {"$ref": REF_TEMPLATE.format(model=name)}


def _json(schema: dict[str, Any]) -> dict[str, Any]:
    return {"application/json": {"schema": schema}}


def _response(description: str, schema: dict[str, Any] | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {"description": description}
    if schema is not None:
        out["content"] = _json(schema)
    return out


def _response_ref(name: str) -> dict[str, Any]:
    return {"$ref": f"#/components/responses/{name}"}


def _error_responses() -> dict[str, Any]:
    schema = _ref("ErrorOmnichannel")
    return {
        "BadRequest": _response(
            "Invalid request (`Invalid data` 105 / `Missing data` 106): malformed JSON, wrong "
            "types, unknown channel, both `ttl` and `validity`, `time_to_send` too far ahead, "
            "... Each item names its field in `source`.",
            schema,
        ),
        "Unauthorized": _response(
            "Missing or wrong HTTP Basic credentials (`Unauthorized` 103). Comes with a "
            "`WWW-Authenticate: Basic` header.",
            schema,
        ),
        "NotFound": _response(
            "No such omnimessage, or it belongs to another account (`Not found` 101).", schema
        ),
        "IdempotencyInProgress": _response(
            "Tidings extension. The first request with this `Idempotency-Key` is still in "
            f"progress and did not answer within {_API.idempotency_wait_s:g} s (server "
            "setting): nothing was done; retry with the same key (`Retry-After: 1`). "
            "`Invalid data` 105, `source` `Idempotency-Key`.",
            schema,
        ),
        "IdempotencyMismatch": _response(
            "Tidings extension. This `Idempotency-Key` was used (within 24 h) for another "
            "request: another method, path, query or body. `Invalid data` 105, `source` "
            "`Idempotency-Key`.",
            schema,
        ),
        "PayloadTooLarge": _response(
            "The body is larger than the server's limit (`Invalid data` 105): "
            f"{_API.max_body_bytes} bytes for a single send, {_API.max_bulk_body_bytes} for "
            "bulk (server settings).",
            schema,
        ),
    }


# -- paths ---------------------------------------------------------------------------------------

_IDEMPOTENCY_KEY = {
    "name": "Idempotency-Key",
    "in": "header",
    "required": False,
    "description": "Tidings extension (the official clients never send it). A key of 1 to 255 "
    "printable ASCII characters, unique per request, chosen by the client (a UUID will do). "
    "A repeat with the same key and the same request (method, path, query, body as JSON) "
    "within 24 h gets the first answer again (status, body and headers, plus "
    "`Idempotent-Replayed: true`) without acting again; if the first is still in progress, "
    "the repeat waits for its answer (409 after the server's wait limit). Keys are per "
    "account. A 5xx, 401 or 429 is not kept: a retry after one acts. A bad key is a 400 with "
    "`source` `Idempotency-Key`.",
    "schema": {"type": "string", "minLength": 1, "maxLength": 255, "pattern": "^[ -~]+$"},
}
_IDEMPOTENT = [{"$ref": "#/components/parameters/IdempotencyKey"}]


def _idempotent_responses() -> dict[str, Any]:
    return {
        "409": _response_ref("IdempotencyInProgress"),
        "422": _response_ref("IdempotencyMismatch"),
    }


_OMNI_ID = {
    "name": "omnimessageId",
    "in": "path",
    "required": True,
    "description": "The `omnimessage_id` from the send response. Not a UUID → 404.",
    "schema": {"type": "string", "format": "uuid"},
}


def _link(operation_id: str, omnimessage_id: str) -> dict[str, Any]:
    return {"operationId": operation_id, "parameters": {"omnimessageId": omnimessage_id}}


_SENT_ID = "$response.body#/omnimessage_id"
_CANCELLED_ID = "$request.path.omnimessageId"
# What a client does next with a sent omnimessage (stateful clients and fuzzers follow these).
_OMNI_LINKS = {
    "GetStatus": _link("retrieveDeliveryReport", _SENT_ID),
    "Cancel": _link("cancelScheduledMessage", _SENT_ID),
}


def _paths() -> dict[str, Any]:
    paths = _messente_paths()
    extensions = {
        **openapi_schedule.schedule_paths(TIME_PATTERN, LIST_LIMIT_MAX, LIST_LIMIT_DEFAULT),
        **openapi_inbound.inbound_paths(),
    }
    for path, item in extensions.items():
        for method, op in item.items():
            if method in ("post", "patch", "delete"):  # every write takes Idempotency-Key
                op["parameters"] = [*op.get("parameters", []), *_IDEMPOTENT]
                op["responses"] = {**op["responses"], **_idempotent_responses()}
        paths[path] = {**paths.get(path, {}), **item}
    for path, item in openapi_phonebook.phonebook_paths().items():
        for method, op in item.items():
            if method in ("post", "delete"):
                op["parameters"] = [*op.get("parameters", []), *_IDEMPOTENT]
                op["responses"] = {**op["responses"], **_phonebook_idempotent_responses(op)}
        paths[path] = item
    return paths


def _phonebook_idempotent_responses(op: dict[str, Any]) -> dict[str, Any]:
    """The Idempotency-Key refusals of a Phonebook write, in the Phonebook error format."""
    conflict = op["responses"].get("409", {}).get("description", "")
    schema = _ref("ErrorPhonebook")
    return {
        "400": _response(
            f"{op['responses'].get('400', {}).get('description', '')} A bad "
            "`Idempotency-Key` (`source` `Idempotency-Key`).".strip(),
            schema,
        ),
        "409": _response(
            f"{conflict} Tidings extension: the first request with this `Idempotency-Key` is "
            "still in progress (`Conflict` 204, `source` `Idempotency-Key`, `Retry-After: 1`).".strip(),
            schema,
        ),
        "422": _response(
            "Tidings extension: this `Idempotency-Key` was used for another request "
            "(`Invalid data` 201, `source` `Idempotency-Key`).",
            schema,
        ),
    }


def _messente_paths() -> dict[str, Any]:
    err = _response_ref
    return {
        "/v1/omnimessage": {
            "post": {
                "operationId": "sendOmnimessage",
                "tags": ["Omnimessage"],
                "summary": "Send an omnimessage, now or scheduled",
                "description": "Validates the message, commits it durably and answers **201** "
                "(exactly: the official clients treat any other 2xx as an empty answer). "
                "Sent now, or at `time_to_send`; channels are tried in order until one "
                "delivers.",
                "parameters": _IDEMPOTENT,
                "requestBody": {"required": True, "content": _json(_ref("Omnimessage"))},
                "responses": {
                    "201": {
                        **_response(
                            "Accepted and stored.", _ref("OmniMessageCreateSuccessResponse")
                        ),
                        "links": _OMNI_LINKS,
                    },
                    "400": err("BadRequest"),
                    "401": err("Unauthorized"),
                    "413": err("PayloadTooLarge"),
                    **_idempotent_responses(),
                },
            }
        },
        "/v1/omnimessages": {
            "post": {
                "operationId": "sendBulkOmnimessage",
                "tags": ["Bulk messaging"],
                "summary": "Send many omnimessages",
                "description": f"At most {_LIMITS.max_bulk} omnimessages per request. A bad "
                "envelope (not an object, `messages` missing, empty or too long) is 400; "
                "otherwise each item is validated on its own and the answer is **201** with "
                "one result per item, a success or an error object.",
                "parameters": _IDEMPOTENT,
                "requestBody": {"required": True, "content": _json(_ref("BulkOmnimessage"))},
                "responses": {
                    "201": _response(
                        "Per-item results.", _ref("BulkOmniMessageCreateSuccessResponse")
                    ),
                    "400": err("BadRequest"),
                    "401": err("Unauthorized"),
                    "413": err("PayloadTooLarge"),
                    **_idempotent_responses(),
                },
            }
        },
        "/v1/omnimessage/{omnimessageId}": {
            "parameters": [_OMNI_ID],
            "delete": {
                "operationId": "cancelScheduledMessage",
                "tags": ["Omnimessage"],
                "summary": "Cancel a scheduled omnimessage",
                "description": "Allowed while no channel has been handed to a provider. "
                "Answers **202** `{}`. Cancelling an already-cancelled message answers 202 "
                "again and changes nothing (safe to retry). A message that has started "
                "sending, does not exist or belongs to another account: 404. After cancel, "
                'the status shows every channel as `"DELETED"`.',
                "parameters": _IDEMPOTENT,
                "responses": {
                    "202": {
                        **_response("Cancelled (or already cancelled).", _ref("EmptyObject")),
                        "links": {"GetStatus": _link("retrieveDeliveryReport", _CANCELLED_ID)},
                    },
                    "401": err("Unauthorized"),
                    "400": _response(
                        "A bad `Idempotency-Key` (`Invalid data` 105, `source` `Idempotency-Key`).",
                        _ref("ErrorOmnichannel"),
                    ),
                    "404": _response(
                        "Already sent, or no such omnimessage (`Not found` 101).",
                        _ref("ErrorOmnichannel"),
                    ),
                    **_idempotent_responses(),
                },
            },
        },
        "/v1/omnimessage/{omnimessageId}/status": {
            "parameters": [_OMNI_ID],
            "get": {
                "operationId": "retrieveDeliveryReport",
                "tags": ["Delivery report"],
                "summary": "Delivery status of an omnimessage",
                "description": "One `DeliveryResult` per channel message, in send order. "
                "Scheduled: `status` null; cancelled: `DELETED`. Prefer `dlr_url` to polling.",
                "responses": {
                    "200": _response("The statuses.", _ref("DeliveryReportResponse")),
                    "401": err("Unauthorized"),
                    "404": err("NotFound"),
                },
            },
        },
        "/v1/sandbox/messages": {
            "get": {
                "operationId": "listSandboxMessages",
                "tags": ["Sandbox"],
                "summary": "Messages delivered by the sandbox channel",
                "description": "The sandbox inbox of the authenticated account, newest first. "
                "Tidings extension, not part of the Messente API.",
                "parameters": [
                    {
                        "name": "to",
                        "in": "query",
                        "required": False,
                        "description": "Only messages to this number (E.164; an unencoded `+` "
                        "that arrives as a space is accepted).",
                        "schema": {"type": "string", "examples": ["+37251234567"]},
                    },
                    {
                        "name": "limit",
                        "in": "query",
                        "required": False,
                        "description": "How many messages at most.",
                        "schema": {
                            "type": "integer",
                            "minimum": 1,
                            "maximum": SANDBOX_LIMIT_MAX,
                            "default": SANDBOX_LIMIT_DEFAULT,
                        },
                    },
                ],
                "responses": {
                    "200": _response("The messages.", _ref("SandboxMessageList")),
                    "400": _response(
                        "Bad `to` or `limit` (`source` names it).", _ref("ErrorOmnichannel")
                    ),
                    "401": err("Unauthorized"),
                },
            }
        },
        "/metrics": {
            "get": {
                "operationId": "metrics",
                "tags": ["Operations"],
                "summary": "Prometheus metrics",
                "description": "Engine counters and histograms in the Prometheus text format. "
                "No authentication by default; when the server sets `TIDINGS_METRICS_TOKEN`, "
                "`Authorization: Bearer <that token>` is required.",
                "security": [{}, {"metricsToken": []}],
                "responses": {
                    "200": {
                        "description": "Metrics.",
                        "content": {"text/plain": {"schema": {"type": "string"}}},
                    },
                    "401": {
                        "description": "`TIDINGS_METRICS_TOKEN` is set and the bearer token is"
                        " missing or wrong.",
                        "content": {"application/json": {"schema": _ref("ErrorOmnichannel")}},
                    },
                },
            }
        },
        "/healthz": {
            "get": {
                "operationId": "healthz",
                "tags": ["Operations"],
                "summary": "Liveness check",
                "description": "Answers 200 while the process serves requests. No authentication.",
                "security": [],
                "responses": {"200": _response("Alive.", _ref("Health"))},
            }
        },
        "/openapi.json": {
            "get": {
                "operationId": "openapi",
                "tags": ["Operations"],
                "summary": "This OpenAPI document",
                "security": [],
                "responses": {"200": _response("OpenAPI 3.1 document.", {"type": "object"})},
            }
        },
        "/docs": {
            "get": {
                "operationId": "docs",
                "tags": ["Operations"],
                "summary": "This document as a web page",
                "security": [],
                "responses": {
                    "200": {
                        "description": "HTML page.",
                        "content": {"text/html": {"schema": {"type": "string"}}},
                    }
                },
            }
        },
    }


def _webhooks() -> dict[str, Any]:
    return {
        "deliveryReport": {
            "post": {
                "summary": "Delivery report sent to `dlr_url`",
                "description": "One JSON POST per status change of each channel message. "
                "Answer with a 2xx or 3xx status; anything else, a timeout or a connection "
                "error is retried with exponential backoff and jitter for at least 24 hours. "
                "Reports for one message arrive in order, and a late non-final status never "
                "follows a final one.",
                "parameters": [
                    {
                        "name": "X-Messente-Signature",
                        "in": "header",
                        "required": True,
                        "description": "Hex HMAC-SHA256 of the raw body.",
                        "schema": {"type": "string", "pattern": "^[0-9a-f]{64}$"},
                    }
                ],
                "requestBody": {"required": True, "content": _json(_ref("DeliveryReportWebhook"))},
                "responses": {"200": {"description": "Any 2xx or 3xx acknowledges the report."}},
            }
        }
    }


_INFO_DESCRIPTION = (
    "A self-hosted gateway that speaks the Messente Omnichannel API v1 wire format: point any "
    "official Messente SDK (host `http://<server>/v1`) or curl at it. JSON in, JSON out; "
    "`Content-Type: application/json` on every JSON answer.\n\n"
    "Every error, whatever its cause (bad input, unknown path 404, wrong method 405, internal "
    "error 500), has the `ErrorOmnichannel` body with a string `code`; never a framework's "
    "default body. Success codes are exact: send and bulk 201, cancel 202, status 200.\n\n"
    "Schemas state the limits the server enforces; where upstream documents no limit, the "
    "bounds are Tidings' own."
)


@functools.lru_cache(maxsize=1)
def openapi_document() -> dict[str, Any]:
    """The OpenAPI 3.1 document (built once; the same dict is returned every time: don't mutate)."""
    schemas = component_schemas()
    return {
        "openapi": "3.1.0",
        "info": {
            "title": TITLE,
            "version": "1.0.0",
            "description": _INFO_DESCRIPTION,
            "license": {"name": "MIT", "identifier": "MIT"},
        },
        "servers": [{"url": "/"}],
        "security": [{"basicAuth": []}],
        "tags": [
            {"name": "Omnimessage", "description": "Send, schedule and cancel."},
            {"name": "Bulk messaging", "description": "Many omnimessages at once."},
            {"name": "Delivery report", "description": "Status of sent messages."},
            {"name": "Sandbox", "description": "The built-in test channel's inbox."},
            {
                "name": openapi_phonebook.TAG,
                "description": "Messente's Phonebook blacklist: numbers never sent to. Errors "
                "use the Phonebook format (`ErrorPhonebook`).",
            },
            {
                "name": "Scheduling (extension)",
                "description": "Tidings extensions: list, inspect, reschedule, batches.",
            },
            {"name": "Operations", "description": "Health, metrics and this document."},
        ],
        "paths": _paths(),
        "webhooks": _webhooks(),
        "components": {
            "securitySchemes": {
                "basicAuth": {
                    "type": "http",
                    "scheme": "basic",
                    "description": "The account's API username and password.",
                },
                "metricsToken": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "`TIDINGS_METRICS_TOKEN`, for `/metrics` when it is set.",
                },
            },
            "schemas": schemas,
            "parameters": {"IdempotencyKey": _IDEMPOTENCY_KEY},
            "responses": _error_responses(),
        },
    }
