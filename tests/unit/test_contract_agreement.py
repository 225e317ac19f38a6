"""The validator and the published OpenAPI document come from the same models: they agree.

For every body of a corpus (valid omnimessages covering every channel object, every mutation of
them — each field removed, nulled or given a wrong value, each list item doubled — and
hand-written cross-field violations), the server's verdict (`validate_omnimessage`) is compared
with a plain JSON-schema validation against the `Omnimessage` schema of `/openapi.json`:

- a body the server accepts is valid by the schema;
- a body the schema refuses is refused by the server;
- a body the schema accepts but the server refuses fails only checks that the document itself
  marks as beyond the schema (`x-server-check`: E.164 numbers, URLs, real dates, the schedule
  horizon, an event's end after its start), on the field named by each error's `source` or on
  the object holding it.

Two places where JSON Schema and JSON differ are left out of the corpus: JSON Schema counts
``10.0`` as an integer while the server wants an integer token, and a Python `re` pattern (as
the `jsonschema` library runs it) lets ``$`` match before a final newline where ECMA-262 does not.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from jsonschema import Draft202012Validator  # type: ignore[import-untyped]

from tidings.core.contract.types import SERVER_CHECK
from tidings.core.errors import ErrorItem, RequestInvalid
from tidings.core.model import Limits
from tidings.core.validation import validate_omnimessage
from tidings.web.api.openapi import openapi_document

DOC = openapi_document()
SCHEMAS: dict[str, Any] = DOC["components"]["schemas"]
SCHEMA = Draft202012Validator(
    {"$ref": "#/components/schemas/Omnimessage", "components": DOC["components"]}
)
NOW = datetime(2030, 1, 1, tzinfo=UTC)
TO = "+37251234567"
IMG = "https://cdn.example.com/a.png"
FILE = {"file_url": "https://cdn.example.com/a.jpg", "force_refresh": False}
REPLY = {"reply": {"text": "Yes", "postback_data": "yes"}}
CARD = {
    "title": "Coffee",
    "description": "Fresh",
    "media": {"height": "MEDIUM", "content_info": FILE},
    "suggestions": [REPLY],
}


def _action(**kind: Any) -> dict[str, Any]:
    return {"action": {"text": "Do", "postback_data": "act", **kind}}


def _omni(*messages: dict[str, Any], **fields: Any) -> dict[str, Any]:
    return {"to": TO, "messages": list(messages), **fields}


VALID: list[dict[str, Any]] = [
    _omni(
        {"channel": "whatsapp", "text": {"body": "Hi", "preview_url": False}, "ttl": 60},
        {"channel": "sms", "sender": "Shop", "text": "Hi", "autoconvert": "full", "udh": "0500"},
        time_to_send="2030-06-22T09:05:07+04:00",
        dlr_url="https://hooks.example.com/dlr",
        text_store="sha256",
        priority="high",
    ),
    _omni(
        {
            "channel": "viber",
            "text": "Hi",
            "image_url": IMG,
            "button_text": "Go",
            "button_url": "tel:+37251234567",
            "validity": 5,
        }
    ),
    _omni(
        {
            "channel": "viber",
            "video": {"url": IMG, "thumbnail": IMG, "file_size": 10, "duration": 5},
            "text": "Clip",
            "button_text": "Watch",
        }
    ),
    _omni({"channel": "viber", "template": {"id": "1", "lang": "en", "params": {"a": "b"}}}),
    _omni(
        {
            "channel": "viber",
            "text": "Pick",
            "carousel": {
                "items": [
                    {
                        "title": "Tea",
                        "image_url": IMG,
                        "primary_button": {"label": "Buy", "action_url": "https://x.example"},
                        "secondary_button": {"label": "More", "action_url": "viber://chat"},
                    },
                    {
                        "title": "Coffee",
                        "image_url": IMG,
                        "primary_button": {"label": "Buy", "action_url": "https://x.example"},
                    },
                ]
            },
        }
    ),
    _omni(
        {
            "channel": "whatsapp",
            "template": {
                "name": "order_ready",
                "language": {"code": "en", "policy": "deterministic"},
                "components": [
                    {"type": "header", "parameters": [{"type": "image", "image": {"link": IMG}}]},
                    {
                        "type": "body",
                        "parameters": [
                            {"type": "text", "text": "Ann"},
                            {
                                "type": "currency",
                                "currency": {
                                    "fallback_value": "$1",
                                    "code": "USD",
                                    "amount_1000": "1000",
                                },
                            },
                            {"type": "date_time", "date_time": {"fallback_value": "May 1"}},
                            {"type": "document", "document": {"id": "7", "filename": "a.pdf"}},
                        ],
                    },
                    {
                        "type": "button",
                        "sub_type": "quick_reply",
                        "index": 0,
                        "parameters": [{"type": "payload", "payload": "YES"}],
                    },
                ],
            },
        }
    ),
    _omni({"channel": "whatsapp", "image": {"link": IMG, "caption": "Menu", "mime_type": "a/b"}}),
    _omni({"channel": "whatsapp", "video": {"id": "1", "caption": "Clip"}}),
    _omni({"channel": "whatsapp", "audio": {"id": "2", "mime_type": "audio/ogg"}}),
    _omni({"channel": "whatsapp", "document": {"link": IMG, "file_name": "a.pdf"}}),
    _omni({"channel": "whatsapp", "sticker": {"id": "3", "animated": True}}),
    _omni(
        {
            "channel": "rcs",
            "sender": "Agent",
            "text": "Pick",
            "suggestions": [
                REPLY,
                _action(dial_action={"phone_number": "+37251234567"}),
                _action(
                    view_location_action={
                        "lat_long": {"latitude": 59.4, "longitude": 24},
                        "label": "Here",
                    }
                ),
                _action(view_location_action={"query": "coffee"}),
                _action(
                    create_calendar_event_action={
                        "start_time": "2030-02-01T10:00Z",
                        "end_time": "2030-02-01T11:00Z",
                        "title": "Visit",
                        "description": "Tasting",
                    }
                ),
                _action(
                    open_url_action={
                        "url": "https://example.com",
                        "application": "WEBVIEW",
                        "webview_view_mode": "HALF",
                        "description": "Shop",
                    },
                    fallback_url="https://example.com/f",
                ),
                _action(share_location_action={}),
            ],
        }
    ),
    _omni(
        {
            "channel": "rcs",
            "sender": "Agent",
            "rich_card": {
                "standalone_card": {
                    "card_orientation": "HORIZONTAL",
                    "thumbnail_image_alignment": "RIGHT",
                    "card_content": CARD,
                }
            },
        }
    ),
    _omni(
        {
            "channel": "rcs",
            "sender": "Agent",
            "rich_card": {"carousel_card": {"card_width": "SMALL", "card_contents": [CARD, CARD]}},
        },
        {"channel": "sms", "text": "fallback"},
    ),
    _omni(
        {
            "channel": "rcs",
            "sender": "Agent",
            "content_info": {**FILE, "thumbnail_url": IMG},
        }
    ),
    _omni({"channel": "telegram", "text": "Hi", "document_url": IMG, "validity": 60}),
]

# Cross-field rules and rules beyond the schema, which single-field mutations do not reach.
CROSS_FIELD: list[dict[str, Any]] = [
    _omni({"channel": "sms", "text": "a"}, {"channel": "sms", "text": "b"}),
    _omni({"channel": "sms", "text": "a", "validity": 1, "ttl": 60}),
    _omni({"channel": "telegram", "text": "a", "ttl": 60}),
    _omni({"channel": "telegram", "image_url": IMG, "audio_url": IMG}),
    _omni({"channel": "whatsapp", "text": {"body": "a"}, "sticker": {"id": "1"}}),
    _omni({"channel": "whatsapp", "image": {"id": "1", "link": IMG}}),
    _omni({"channel": "viber", "text": "a", "image_url": IMG}),
    _omni({"channel": "viber", "button_text": "a", "button_url": IMG}),
    _omni({"channel": "viber", "template": {"id": "1", "lang": "en"}, "text": "a"}),
    _omni({"channel": "rcs", "sender": "A", "text": "a", "content_info": FILE}),
    _omni({"channel": "rcs", "sender": "A", "text": "a", "suggestions": [{**REPLY, **_action()}]}),
    _omni(
        {
            "channel": "rcs",
            "sender": "A",
            "text": "a",
            "suggestions": [_action(share_location_action={}, dial_action={"phone_number": TO})],
        }
    ),
    _omni(
        {
            "channel": "rcs",
            "sender": "A",
            "text": "a",
            "suggestions": [
                _action(
                    create_calendar_event_action={
                        "start_time": "2030-02-01T10:00Z",
                        "end_time": "2030-02-01T09:00Z",
                        "title": "t",
                        "description": "d",
                    }
                )
            ],
        }
    ),
    _omni({"channel": "rcs", "sender": "A", "rich_card": {"standalone_card": None}}),
    _omni(
        {
            "channel": "whatsapp",
            "template": {
                "name": "n",
                "language": {"code": "en"},
                "components": [{"type": "body", "parameters": [{"type": "currency"}]}],
            },
        }
    ),
    _omni({"channel": "sms", "text": "a"}, time_to_send="2032-01-01T00:00"),
    _omni({"channel": "sms", "text": "a"}, time_to_send="2030-02-30T00:00"),
    _omni({"channel": "sms", "text": "a"}, dlr_url="ftp://example.com/dlr"),
    {"to": "+999123456", "messages": [{"channel": "sms", "text": "a"}]},
    {"to": TO, "messages": [{"channel": "sms", "text": "a"}], "extra": {"ignored": True}},
]

WRONG_VALUES: tuple[Any, ...] = (None, 0, 1.5, 10**20, True, "", "x", "x" * 5000, [], {})


def _nodes(value: Any, path: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    if isinstance(value, dict):
        for key, item in value.items():
            yield (*path, key)
            yield from _nodes(item, (*path, key))
    elif isinstance(value, list):
        for i, item in enumerate(value):
            yield (*path, i)
            yield from _nodes(item, (*path, i))


def _mutations(body: dict[str, Any]) -> Iterator[dict[str, Any]]:
    for path in _nodes(body):
        parent_path, last = path[:-1], path[-1]
        if isinstance(last, str):
            gone = copy.deepcopy(body)
            del _at(gone, parent_path)[last]
            yield gone
        else:
            doubled = copy.deepcopy(body)
            items = _at(doubled, parent_path)
            items.insert(last, copy.deepcopy(items[last]))
            yield doubled
        for value in WRONG_VALUES:
            changed = copy.deepcopy(body)
            _at(changed, parent_path)[last] = value
            yield changed


def _at(value: Any, path: tuple[Any, ...]) -> Any:
    for part in path:
        value = value[part]
    return value


def _resolve(schema: dict[str, Any], value: Any) -> dict[str, Any]:
    """The schema that applies to `value`: refs followed, nullable and channel unions picked."""
    while True:
        if "$ref" in schema:
            schema = SCHEMAS[schema["$ref"].rsplit("/", 1)[-1]]
        elif "anyOf" in schema and "type" not in schema:
            branches = [b for b in schema["anyOf"] if b.get("type") != "null"]
            schema = branches[0]
        elif "discriminator" in schema:
            name = schema["discriminator"]["mapping"][value["channel"]]
            schema = SCHEMAS[name.rsplit("/", 1)[-1]]
        else:
            return schema


def _marked_beyond_schema(body: dict[str, Any], item: ErrorItem) -> bool:
    """Whether the field `item.source` names, or the object holding it, has `x-server-check`."""
    assert item.source is not None, item
    parts = [
        int(p[1:-1]) if p.startswith("[") else p
        for p in re.findall(r"\[\d+\]|[^.\[\]]+", item.source)
    ]
    schema, value = _resolve(SCHEMAS["Omnimessage"], body), body
    chain = [schema]
    for part in parts:
        raw = schema["items"] if isinstance(part, int) else schema["properties"][part]
        value = value[part]
        marked = SERVER_CHECK in raw or any(SERVER_CHECK in b for b in raw.get("anyOf", []))
        schema = _resolve(raw, value) if isinstance(value, dict | list) else raw
        chain.append({SERVER_CHECK: True} if marked else schema)
    return any(SERVER_CHECK in s for s in chain[-2:])


def _server(body: dict[str, Any]) -> list[ErrorItem]:
    try:
        validate_omnimessage(body, now=NOW, limits=Limits())
    except RequestInvalid as exc:
        return exc.errors
    return []


def _corpus() -> list[dict[str, Any]]:
    bodies = [*VALID, *CROSS_FIELD]
    for seed in VALID:
        bodies.extend(_mutations(seed))
    return bodies


CORPUS = _corpus()


def test_the_valid_seeds_are_valid_both_ways() -> None:
    for body in VALID:
        assert _server(body) == [], body
        assert SCHEMA.is_valid(body), body


def test_server_and_document_agree() -> None:
    assert len(CORPUS) > 2500
    refused_by_both = beyond = 0
    for body in CORPUS:
        errors = _server(body)
        by_schema = SCHEMA.is_valid(body)
        if not errors:
            assert by_schema, ("the server accepts what the document refuses", body)
        elif not by_schema:
            refused_by_both += 1
        else:
            beyond += 1
            for item in errors:
                assert _marked_beyond_schema(body, item), (
                    "refused for a reason the document does not state",
                    item,
                    body,
                )
    assert refused_by_both > 1000 and beyond > 10


@pytest.mark.parametrize("body", CROSS_FIELD, ids=lambda b: str(b)[:60])
def test_cross_field_rules_are_refused(body: dict[str, Any]) -> None:
    if body.get("extra"):
        assert _server(body) == [] and SCHEMA.is_valid(body)
    else:
        assert _server(body), body
