"""The OpenAPI document: valid OpenAPI 3.1, exact status codes, in step with routes and validation."""

from __future__ import annotations

import copy
import re
from datetime import UTC, datetime
from typing import Any, cast

import pytest
from jsonschema import Draft202012Validator  # type: ignore[import-untyped]
from openapi_spec_validator import OpenAPIV31SpecValidator, validate

from tidings.core.dispatch import StatusChange
from tidings.core.errors import RequestInvalid, errors_body, invalid, missing
from tidings.core.model import CHANNELS, STATUSES, Limits
from tidings.core.report_payload import delivery_report
from tidings.core.validation import validate_omnimessage
from tidings.store.records import (
    ChannelView,
    NewChannelMessage,
    NewOmnimessage,
    OmniView,
    SandboxMessage,
)
from tidings.web.api.docs_page import docs_html
from tidings.web.api.openapi import TITLE, openapi_document
from tidings.web.api.serialize import sandbox_message, send_result, status_body
from tidings.web.app import create_app
from tidings.web.context import ApiContext

DOC = openapi_document()
SCHEMAS: dict[str, Any] = DOC["components"]["schemas"]


def _validator(name: str) -> Draft202012Validator:
    """A JSON Schema validator for one component, resolving refs inside the document."""
    return Draft202012Validator(
        {"$ref": f"#/components/schemas/{name}", "components": DOC["components"]}
    )


def _is_valid(name: str, value: Any) -> bool:
    return bool(_validator(name).is_valid(value))


def _value(prop: dict[str, Any]) -> dict[str, Any]:
    """The schema of a property's non-null values (an optional field is `anyOf [X, null]`)."""
    branches = [b for b in prop.get("anyOf", [prop]) if b.get("type") != "null"]
    assert len(branches) == 1, prop
    return cast(dict[str, Any], branches[0])


def _nullable(prop: dict[str, Any]) -> bool:
    return any(b.get("type") == "null" for b in prop.get("anyOf", []))


def _template(path: str) -> str:
    return re.sub(r"\{[^}]+\}", "{}", path)


def _responses(path: str, method: str) -> dict[str, Any]:
    return cast(dict[str, Any], DOC["paths"][path][method]["responses"])


def _success_codes(path: str, method: str) -> list[str]:
    return [code for code in _responses(path, method) if code.startswith("2")]


# -- the document as a whole ----------------------------------------------------------------------


def test_document_is_valid_openapi_3_1() -> None:
    assert DOC["openapi"].startswith("3.1")
    validate(DOC, cls=OpenAPIV31SpecValidator)


def test_document_is_cached() -> None:
    assert openapi_document() is openapi_document()


def test_info_servers_and_security() -> None:
    assert DOC["info"]["title"] == TITLE
    assert DOC["servers"] == [{"url": "/"}]
    scheme = DOC["components"]["securitySchemes"]["basicAuth"]
    assert scheme == {**scheme, "type": "http", "scheme": "basic"}
    assert DOC["security"] == [{"basicAuth": []}]
    assert DOC["paths"]["/healthz"]["get"]["security"] == []
    # open by default, a bearer token when TIDINGS_METRICS_TOKEN is set
    assert DOC["paths"]["/metrics"]["get"]["security"] == [{}, {"metricsToken": []}]
    assert DOC["components"]["securitySchemes"]["metricsToken"]["scheme"] == "bearer"


# -- status codes -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "method", "code"),
    [
        ("/v1/omnimessage", "post", "201"),
        ("/v1/omnimessages", "post", "201"),
        ("/v1/omnimessage/{omnimessageId}", "delete", "202"),
        ("/v1/omnimessage/{omnimessageId}/status", "get", "200"),
        ("/v1/sandbox/messages", "get", "200"),
    ],
)
def test_exact_success_code(path: str, method: str, code: str) -> None:
    assert _success_codes(path, method) == [code]


@pytest.mark.parametrize(
    ("path", "method", "codes"),
    [
        # 409 and 422: Idempotency-Key (extension); DELETE's 400: a bad key.
        ("/v1/omnimessage", "post", {"201", "400", "401", "409", "413", "422"}),
        ("/v1/omnimessages", "post", {"201", "400", "401", "409", "413", "422"}),
        ("/v1/omnimessage/{omnimessageId}", "delete", {"202", "400", "401", "404", "409", "422"}),
        ("/v1/omnimessage/{omnimessageId}/status", "get", {"200", "401", "404"}),
        ("/v1/sandbox/messages", "get", {"200", "400", "401"}),
        # Messente's Phonebook codes; 422 and the second meaning of 409: Idempotency-Key.
        ("/v1/phonebook/blacklist", "get", {"200", "401"}),
        ("/v1/phonebook/blacklist", "post", {"204", "400", "401", "409", "413", "415", "422"}),
        ("/v1/phonebook/blacklist/{phone}", "get", {"204", "400", "401", "404"}),
        ("/v1/phonebook/blacklist/{phone}", "delete", {"204", "400", "401", "404", "409", "422"}),
    ],
)
def test_documented_codes(path: str, method: str, codes: set[str]) -> None:
    assert set(_responses(path, method)) == codes


def test_idempotency_key_is_documented_on_every_write() -> None:
    param = DOC["components"]["parameters"]["IdempotencyKey"]
    assert (param["name"], param["in"], param["required"]) == ("Idempotency-Key", "header", False)
    writes = [
        (path, method)
        for path, item in DOC["paths"].items()
        for method in item
        if method in ("post", "patch", "delete") and path.startswith("/v1/")
    ]
    assert len(writes) >= 3
    for path, method in writes:
        op = DOC["paths"][path][method]
        assert {"$ref": "#/components/parameters/IdempotencyKey"} in op["parameters"], path


def test_success_bodies() -> None:
    def schema_of(path: str, method: str, code: str) -> Any:
        return _responses(path, method)[code]["content"]["application/json"]["schema"]

    assert schema_of("/v1/omnimessage", "post", "201") == {
        "$ref": "#/components/schemas/OmniMessageCreateSuccessResponse"
    }
    assert schema_of("/v1/omnimessage/{omnimessageId}", "delete", "202") == {
        "$ref": "#/components/schemas/EmptyObject"
    }
    assert schema_of("/v1/omnimessage/{omnimessageId}/status", "get", "200") == {
        "$ref": "#/components/schemas/DeliveryReportResponse"
    }


def test_error_responses_use_error_omnichannel() -> None:
    """Every error of the API is an ErrorOmnichannel, but the Phonebook's (Messente's own
    ErrorPhonebook, as the official BlacklistApi reads them)."""
    for path, item in DOC["paths"].items():
        if not path.startswith("/v1/"):
            continue
        expected = "ErrorPhonebook" if path.startswith("/v1/phonebook/") else "ErrorOmnichannel"
        for method, op in item.items():
            if method == "parameters":
                continue
            for code, response in op["responses"].items():
                if code.startswith("2"):
                    continue
                if "$ref" in response:
                    name = response["$ref"].rsplit("/", 1)[-1]
                    response = DOC["components"]["responses"][name]
                schema = response["content"]["application/json"]["schema"]
                assert schema == {"$ref": f"#/components/schemas/{expected}"}, (path, code)


# -- schemas ----------------------------------------------------------------------------------------


def test_error_code_is_a_string_enum() -> None:
    code = SCHEMAS["ErrorItemOmnichannel"]["properties"]["code"]
    assert code["type"] == "string"
    assert code["enum"] == ["101", "102", "103", "104", "105", "106", "107"]
    assert all(isinstance(value, str) for value in code["enum"])
    assert not _is_valid("ErrorOmnichannel", {"errors": [{"title": "Invalid data", "code": 105}]})


def test_error_bodies_validate() -> None:
    body = errors_body(
        [invalid("text is too long", "messages[1].text"), missing("to is required", "to")]
    )
    assert _is_valid("ErrorOmnichannel", body)
    source = SCHEMAS["ErrorItemOmnichannel"]["properties"]["source"]
    assert "messages[1].text" in source["description"]
    assert _nullable(source) and _value(source)["type"] == "string"


def test_delivery_result_enums() -> None:
    props = SCHEMAS["DeliveryResult"]["properties"]
    assert _nullable(props["status"]) and _value(props["status"])["enum"] == list(STATUSES)
    assert len(STATUSES) == 11
    assert _nullable(props["err"]) and _value(props["err"])["enum"] == [*range(11), 999]
    assert props["channel"]["enum"] == list(CHANNELS)
    report: dict[str, Any] = {
        "omnimessage_id": "0b8f8a8e-7a07-4c61-9a4d-9f3a1f0e8c11",
        "to": "+37251234567",
        "statuses": [
            {
                "status": None,
                "channel": "sms",
                "message_id": "5c9b3e1e-6d0f-4e39-9f8e-6b0a3c2d1e0f",
                "sender": "Tidings",
                "err": None,
                "error": None,
                "timestamp": None,
            },
            {
                "status": "DELIVRD",
                "channel": "whatsapp",
                "message_id": "7d1c2b3a-0f9e-4d8c-a7b6-5e4d3c2b1a09",
                "sender": "Tidings",
                "err": 0,
                "error": None,
                "timestamp": "2030-01-02T03:04:05.123456Z",
                "price_info": {"part_price": "0.1", "parts_count": 2, "total_price": "0.2"},
            },
        ],
    }
    assert _is_valid("DeliveryReportResponse", report)
    report["statuses"][0]["err"] = 11
    assert not _is_valid("DeliveryReportResponse", report)


def test_bulk_items_are_success_or_error() -> None:
    success = {
        "messages": [{"message_id": "m1", "channel": "sms", "sender": "Tidings"}],
        "to": "+37251234567",
        "omnimessage_id": "o1",
    }
    error = errors_body([missing("to is required", "messages[1].to")])
    assert _is_valid("BulkOmniMessageCreateSuccessResponse", {"messages": [success, error]})
    assert not _is_valid("BulkOmniMessageCreateSuccessResponse", {"messages": [{"x": 1}]})
    envelope = SCHEMAS["BulkOmnimessage"]["properties"]["messages"]
    assert envelope["maxItems"] == Limits().max_bulk == 1000


def test_omnimessage_fields() -> None:
    props = SCHEMAS["Omnimessage"]["properties"]
    assert SCHEMAS["Omnimessage"]["required"] == ["to", "messages"]
    assert _value(props["text_store"])["enum"] == ["plaintext", "sha256", "nostore"]
    assert _value(props["priority"])["enum"] == ["low", "regular", "high"]
    assert "UTC" in props["time_to_send"]["description"]
    assert "365 days" in props["time_to_send"]["description"]
    mapping = props["messages"]["items"]["discriminator"]["mapping"]
    assert set(mapping) == set(CHANNELS)
    sms = SCHEMAS["SMS"]["properties"]
    assert _value(sms["autoconvert"])["enum"] == ["on", "full", "off", "true", "false"]
    assert "360 minutes" in sms["validity"]["description"]
    assert SCHEMAS["RCS"]["required"] == ["channel", "sender"]
    assert _value(SCHEMAS["RCS"]["properties"]["text"])["maxLength"] == 3072
    assert _value(SCHEMAS["RCS"]["properties"]["suggestions"])["maxItems"] == 11
    assert SCHEMAS["Telegram"]["properties"]["ttl"]["type"] == "null"  # validity only


@pytest.mark.parametrize(
    "message",
    [
        {"channel": "sms", "text": "Hi", "sender": "Tidings", "autoconvert": "true"},
        {"channel": "viber", "text": "Hi", "button_text": "Go", "button_url": "https://x.ee"},
        {"channel": "whatsapp", "text": {"body": "Hi"}},
        {
            "channel": "whatsapp",
            "template": {
                "name": "order_ready",
                "language": {"code": "en"},
                "components": [{"type": "body", "parameters": [{"type": "text", "text": "A1"}]}],
            },
        },
        {
            "channel": "rcs",
            "sender": "Agent",
            "text": "Hi",
            "suggestions": [{"reply": {"text": "Yes", "postback_data": "y"}}],
        },
        {"channel": "telegram", "text": "Hi", "image_url": "https://x.ee/a.png", "validity": 60},
        {"channel": "rcs", "sender": "acme_x1_agent", "text": "Hi"},  # an RBM agent id
    ],
)
def test_valid_requests_match_schema_and_server(message: dict[str, Any]) -> None:
    body = {"to": "+37251234567", "messages": [message], "time_to_send": "2030-06-22T09:05"}
    assert _is_valid("Omnimessage", body)
    validate_omnimessage(body, now=datetime(2030, 1, 1, tzinfo=UTC), limits=Limits())


@pytest.mark.parametrize(
    "body",
    [
        {"to": "+37251234567", "messages": []},
        {"to": "+37251234567", "messages": [{"text": "no channel"}]},
        {"to": "+37251234567", "messages": [{"channel": "sms", "text": "x" * 1601}]},
        {"to": "+37251234567", "messages": [{"channel": "sms", "text": "Hi", "validity": 10081}]},
        {"to": "+37251234567", "messages": [{"channel": "sms", "text": "Hi", "sender": "x" * 12}]},
        {"to": "+37251234567", "messages": [{"channel": "rcs", "text": "no sender"}]},
        {
            "to": "+37251234567",
            "messages": [{"channel": "rcs", "text": "Hi", "sender": "my agent"}],
        },
        {"to": "+37251234567", "messages": [{"channel": "telegram", "text": "Hi", "ttl": 60}]},
        {
            "to": "+37251234567",
            "messages": [{"channel": "viber", "text": "Hi", "validity": 5, "ttl": 60}],
        },
        {
            "to": "+37251234567",
            "messages": [
                {
                    "channel": "whatsapp",
                    "text": {"body": "Hi"},
                    "image": {"link": "https://x.ee/a.png"},
                }
            ],
        },
        {
            "to": "+37251234567",
            "messages": [
                {
                    "channel": "viber",
                    "image_url": "https://x.ee/a",
                    "video": {
                        "url": "https://x.ee/v",
                        "thumbnail": "https://x.ee/t",
                        "file_size": 1,
                        "duration": 601,
                    },
                }
            ],
        },
        {
            "to": "+37251234567",
            "messages": [{"channel": "sms", "text": "Hi"}],
            "time_to_send": "2030-06-22",
        },
    ],
)
def test_invalid_requests_rejected_by_schema_and_server(body: dict[str, Any]) -> None:
    assert not _is_valid("Omnimessage", body)
    with pytest.raises(RequestInvalid):
        validate_omnimessage(body, now=datetime(2030, 1, 1, tzinfo=UTC), limits=Limits())


def test_examples_validate() -> None:
    for name, schema in SCHEMAS.items():
        for example in schema.get("examples", []):
            if isinstance(example, dict):
                assert _is_valid(name, example), name


# -- routes -----------------------------------------------------------------------------------------


def _app_routes() -> set[tuple[str, str]]:
    app = create_app(cast(ApiContext, object()), manage_engine=False)
    found: set[tuple[str, str]] = set()
    for route in app.routes:
        path = getattr(route, "path", None)
        methods = getattr(route, "methods", None) or set()
        for method in methods:
            if method != "HEAD" and path is not None:
                found.add((_template(path), method.lower()))
    return found


def test_every_v1_route_is_documented() -> None:
    routes = _app_routes()
    v1 = {r for r in routes if r[0].startswith("/v1/")}
    assert len(v1) >= 5
    documented = {
        (_template(path), method)
        for path, item in DOC["paths"].items()
        for method in item
        if method != "parameters"
    }
    assert v1 <= documented
    assert routes <= documented
    assert documented <= routes


# -- HTML -------------------------------------------------------------------------------------------


def test_docs_html_lists_every_path_and_schema() -> None:
    page = docs_html(DOC)
    assert page.startswith("<!doctype html>")
    for path in DOC["paths"]:
        assert path in page
    for name in SCHEMAS:
        assert f"id='schema-{name}'" in page
    assert "201" in page and "202" in page


def test_docs_html_is_self_contained() -> None:
    page = docs_html(DOC)
    assert "<script" not in page
    assert "<link" not in page
    assert not re.search(r"""(src|href)=['"]?(https?:)?//""", page)
    assert "@import" not in page


def test_docs_html_escapes() -> None:
    doc = copy.deepcopy(DOC)
    doc["info"]["title"] = "A <b>bold</b> & title"
    doc["paths"]["/v1/omnimessage"]["post"]["summary"] = "<script>alert(1)</script>"
    doc["components"]["schemas"]["SMS"]["properties"]["text"]["description"] = "<img src=x>"
    page = docs_html(doc)
    assert "<script>alert(1)</script>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "A &lt;b&gt;bold&lt;/b&gt; &amp; title" in page
    assert "<img src=x>" not in page
    assert "&lt;img src=x&gt;" in page


# -- the serialisers build what the document publishes ------------------------------------------

OMNI_ID = "0b8f8a8e-7a07-4c61-9a4d-9f3a1f0e8c11"
MSG_ID = "5c9b3e1e-6d0f-4e39-9f8e-6b0a3c2d1e0f"


def _channel_view(status: str | None, err: int | None, **price: Any) -> ChannelView:
    return ChannelView(
        id=MSG_ID,
        position=0,
        channel="sms",
        sender="Tidings",
        validity_s=60,
        content='{"text": "Hi"}',
        state="sent",
        status=status,
        err=err,
        error=None if not err else "Delivery failure",
        status_us=None if status is None else 1_900_000_000_000_000,
        sent_us=None,
        parts_count=price.get("parts_count"),
        part_price=price.get("part_price"),
    )


def test_serialised_responses_match_their_schemas() -> None:
    new = NewOmnimessage(
        id=OMNI_ID,
        account_id=1,
        to="+37251234567",
        priority=1,
        time_to_send_us=None,
        due_us=0,
        dlr_url=None,
        text_store="plaintext",
        created_us=0,
        channels=(NewChannelMessage(MSG_ID, "whatsapp", "Tidings", 60, "{}"),),
    )
    assert _is_valid("OmniMessageCreateSuccessResponse", send_result(new))
    view = OmniView(
        id=OMNI_ID,
        account_id=1,
        to="+37251234567",
        state="processing",
        priority=1,
        time_to_send_us=None,
        due_us=0,
        dlr_url=None,
        text_store="plaintext",
        position=0,
        created_us=0,
        channels=(
            _channel_view(None, None),
            _channel_view("UNDELIV", 1, parts_count=2, part_price="0.05"),
        ),
    )
    assert _is_valid("DeliveryReportResponse", status_body(view))
    change = StatusChange(
        omnimessage_id=OMNI_ID,
        message_id=MSG_ID,
        account_id=1,
        to="+37251234567",
        channel="rcs",
        sender="Agent",
        status="DELIVRD",
        err=0,
        error=None,
        at_us=1_900_000_000_000_000,
        dlr_url="https://example.com/dlr",
        parts_count=1,
        part_price="0.1",
    )
    assert _is_valid("DeliveryReportWebhook", delivery_report(change))
    inbox = SandboxMessage(
        message_id=MSG_ID,
        omnimessage_id=OMNI_ID,
        account_id=1,
        channel="sms",
        to="+37251234567",
        sender="Tidings",
        text="Hi",
        content='{"text": "Hi"}',
        delivered_us=1_900_000_000_000_000,
    )
    assert _is_valid("SandboxMessageList", {"messages": [sandbox_message(inbox)]})
    error = errors_body([invalid("bad", "messages[0].text")])
    assert _is_valid(
        "BulkOmniMessageCreateSuccessResponse", {"messages": [send_result(new), error]}
    )
