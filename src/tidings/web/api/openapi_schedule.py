"""The OpenAPI operations of the scheduling extensions (issue 12; routes_schedule.py). Their
schemas come from core/contract/lifecycle.py, published beside the Messente ones."""

from __future__ import annotations

from typing import Any

from tidings.core.contract import lifecycle as lc
from tidings.core.contract.omnimessage import REF_TEMPLATE

__all__ = ["SCHEMA_MODELS", "schedule_paths"]

SCHEMA_MODELS: tuple[Any, ...] = (
    lc.Reschedule,
    lc.OmnimessageList,
    lc.OmnimessageItem,
    lc.OmnimessageDetail,
    lc.Rescheduled,
    lc.BatchChanged,
    lc.BatchCounts,
)

_EXT = "**Tidings extension**, not part of the Messente API. "
_TAG = "Scheduling (extension)"


def _ref(name: str) -> dict[str, str]:
    return {"$ref": REF_TEMPLATE.format(model=name)}


def _ok(description: str, schema: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": _ref(schema)}}}


def _err(description: str) -> dict[str, Any]:
    return _ok(description, "ErrorOmnichannel")


def _q(name: str, description: str, schema: dict[str, Any]) -> dict[str, Any]:
    return {
        "name": name,
        "in": "query",
        "required": False,
        "description": description,
        "schema": schema,
    }


_TAG_PARAM = {
    "name": "tag",
    "in": "path",
    "required": True,
    "description": "The batch tag given on send (`batch`).",
    "schema": {"type": "string", "pattern": "^[A-Za-z0-9._:-]{1,64}$"},
}
_JSON_OBJECT_BODY = {
    "required": True,
    "description": "An empty JSON object `{}` with `Content-Type: application/json` (a "
    "bodiless POST could be sent cross-site by a web page with a browser's cached credentials).",
    "content": {"application/json": {"schema": {"type": "object"}}},
}
_BATCH_ERRORS = {
    "400": _err("Bad tag or parameter (`source` names it)."),
    "401": _err("Missing or wrong credentials."),
    "415": _err("The body is not `application/json`."),
}


def _batch_op(op: str, summary: str, description: str, extra: list[Any]) -> dict[str, Any]:
    return {
        "post": {
            "operationId": f"{op}Batch",
            "tags": [_TAG],
            "summary": summary,
            "description": _EXT + description,
            "parameters": [_TAG_PARAM, *extra],
            "requestBody": _JSON_OBJECT_BODY,
            "responses": {
                "200": _ok("How many messages it changed.", "BatchChanged"),
                **_BATCH_ERRORS,
            },
        }
    }


def schedule_paths(time_pattern: str, limit_max: int, limit_default: int) -> dict[str, Any]:
    """The extension's paths; the operations on `/v1/omnimessage/{omnimessageId}` are merged
    with the Messente cancel there."""
    time = {"type": "string", "pattern": time_pattern}
    return {
        "/v1/omnimessages": {
            "get": {
                "operationId": "listOmnimessages",
                "tags": [_TAG],
                "summary": "List the account's omnimessages",
                "description": _EXT + "Keyset-paginated: pass `next_cursor` back as `cursor`. "
                "`scheduled` and `paused` are listed soonest first (by `send_at`), every other "
                "state and no state newest first (by acceptance). A cursor is a position, so "
                "pages stay correct while messages are accepted and sent: every message that "
                "stays in the listed state is seen exactly once.",
                "parameters": [
                    _q(
                        "state",
                        "Only this state.",
                        {"type": "string", "enum": list(lc.LIST_STATES)},
                    ),
                    _q("to", "Only to this number (E.164).", {"type": "string"}),
                    _q("batch", "Only this batch tag.", {"type": "string"}),
                    _q(
                        "due_from",
                        "Only `send_at` at or after this time (the forms of `time_to_send`).",
                        time,
                    ),
                    _q("due_until", "Only `send_at` before this time.", time),
                    _q(
                        "limit",
                        "Items per page.",
                        {
                            "type": "integer",
                            "minimum": 1,
                            "maximum": limit_max,
                            "default": limit_default,
                        },
                    ),
                    _q("cursor", "`next_cursor` of the previous page.", {"type": "string"}),
                ],
                "responses": {
                    "200": _ok("One page.", "OmnimessageList"),
                    "400": _err("A bad parameter (`source` names it)."),
                    "401": _err("Missing or wrong credentials."),
                },
            }
        },
        "/v1/omnimessage/{omnimessageId}": {
            "get": {
                "operationId": "inspectOmnimessage",
                "tags": [_TAG],
                "summary": "The whole omnimessage",
                "description": _EXT + "Its channels with their statuses and contents (as "
                "`text_store` allows), its requested and effective send times (`moved_by`: why "
                "they differ), and its history: "
                "every status, connector answer and reschedule, pause or resume, oldest first.",
                "responses": {
                    "200": _ok("The message.", "OmnimessageDetail"),
                    "401": _err("Missing or wrong credentials."),
                    "404": _err("No such omnimessage, or another account's."),
                },
            },
            "patch": {
                "operationId": "rescheduleOmnimessage",
                "tags": [_TAG],
                "summary": "Reschedule a waiting omnimessage",
                "description": _EXT + "A new `time_to_send` (the same forms and limits as on "
                "send) for a message still scheduled or paused. Decided against the start of "
                "sending by one conditional update, like cancel: either **200** and the message "
                "is sent at the new time (never at the old one), or **404** because it has "
                "already started sending (or does not exist). Quiet hours apply to the new time "
                "as on send (the message's own `quiet_hours` as sent, else the account's): "
                "`send_at` is the effective time, `moved_by` says whether it was held.",
                "requestBody": {
                    "required": True,
                    "content": {"application/json": {"schema": _ref("Reschedule")}},
                },
                "responses": {
                    "200": _ok("Rescheduled.", "Rescheduled"),
                    "400": _err("A bad `time_to_send` (source `time_to_send`)."),
                    "401": _err("Missing or wrong credentials."),
                    "404": _err("Already sending or final, or no such omnimessage."),
                    "415": _err("The body is not `application/json`."),
                },
            },
        },
        "/v1/batches/{tag}": {
            "get": {
                "operationId": "batchCounts",
                "tags": [_TAG],
                "summary": "Counts per state of a batch",
                "description": _EXT + "How many messages of the tag are in each state.",
                "parameters": [_TAG_PARAM],
                "responses": {
                    "200": _ok("The counts.", "BatchCounts"),
                    "400": _err("A bad tag (source `tag`)."),
                    "401": _err("Missing or wrong credentials."),
                    "404": _err("No message of this account has this tag."),
                },
            }
        },
        "/v1/batches/{tag}/pause": _batch_op(
            "pause",
            "Pause a batch",
            "Every scheduled message of the tag is paused at once (one transaction): it does "
            "not fire at its time until resumed. Messages already sending are not touched.",
            [],
        ),
        "/v1/batches/{tag}/resume": _batch_op(
            "resume",
            "Resume a batch",
            "Every paused message of the tag is scheduled again: one whose time passed while "
            "paused is sent at once, or with `skip_missed=true` cancelled (its channels "
            "`DELETED`, reported as for a cancel).",
            [
                _q(
                    "skip_missed",
                    "Cancel the messages whose time has passed.",
                    {"type": "boolean", "default": False},
                )
            ],
        ),
        "/v1/batches/{tag}/cancel": _batch_op(
            "cancel",
            "Cancel a batch",
            "Every scheduled or paused message of the tag is cancelled at once (one "
            "transaction): its channels `DELETED`, reported as for a single cancel.",
            [],
        ),
    }
