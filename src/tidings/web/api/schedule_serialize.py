"""Wire shapes of the scheduling extensions' answers (core/contract/lifecycle.py)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import orjson

from tidings.core.contract.lifecycle import (
    PRIORITY_NAMES,
    ChannelDetail,
    HistoryEvent,
    OmnimessageDetail,
    OmnimessageItem,
    OmnimessageList,
    Rescheduled,
)
from tidings.core.model import OmniState
from tidings.store.records import EventRow
from tidings.store.schedule import Inspected, ListItem
from tidings.web.api.serialize import delivery_result

# Stored omnimessage states -> the names the extensions show.
STATE_NAMES: dict[str, str] = {
    OmniState.SCHEDULED: "scheduled",
    OmniState.PAUSED: "paused",
    OmniState.PROCESSING: "sent",
    OmniState.DELIVERED: "delivered",
    OmniState.FAILED: "failed",
    OmniState.EXPIRED: "expired",
    OmniState.CANCELLED: "cancelled",
}
_WAITING = frozenset({OmniState.SCHEDULED, OmniState.PAUSED})
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def iso_ms(us: int) -> str:
    """UTC ISO 8601 with milliseconds and a Z (truncated, exact)."""
    return (_EPOCH + timedelta(microseconds=us)).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def _iso_ms(us: int | None) -> str | None:
    return None if us is None else iso_ms(us)


def _content(raw: str | None) -> dict[str, Any] | None:
    if raw is None:
        return None
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return None
    return data if isinstance(data, dict) else None


def _priority(p: int) -> str:
    return PRIORITY_NAMES[p] if 0 <= p < len(PRIORITY_NAMES) else "regular"


def list_item(i: ListItem) -> OmnimessageItem:
    return {
        "omnimessage_id": i.id,
        "to": i.to,
        "state": STATE_NAMES.get(i.state, i.state),
        "batch": i.batch,
        "priority": _priority(i.priority),
        "time_to_send": _iso_ms(i.time_to_send_us),
        "send_at": iso_ms(i.due_us),
        "moved_by": i.moved_by,
        "created_at": iso_ms(i.created_us),
        "channels": [
            {
                "message_id": c.message_id,
                "channel": c.channel,
                "sender": c.sender,
                "status": c.status,
            }
            for c in i.channels
        ],
    }


def list_body(items: list[ListItem], next_cursor: str | None) -> OmnimessageList:
    return {"items": [list_item(i) for i in items], "next_cursor": next_cursor}


def _event(e: EventRow) -> HistoryEvent:
    return {
        "at": iso_ms(e.at_us),
        "kind": e.kind,
        "message_id": e.message_id,
        "status": e.status,
        "outcome": e.outcome,
        "err": e.err,
        "error": e.error,
        "connector": e.connector,
        "send_at": _iso_ms(e.due_us),
    }


def detail_body(found: Inspected) -> OmnimessageDetail:
    o = found.message
    show_content = o.text_store == "plaintext" or o.state in _WAITING
    channels: list[ChannelDetail] = []
    for c in o.channels:
        d: ChannelDetail = {
            **delivery_result(c),
            "validity": c.validity_s // 60,
            "content": _content(c.content) if show_content else None,
        }
        channels.append(d)
    return {
        "omnimessage_id": o.id,
        "to": o.to,
        "state": STATE_NAMES.get(o.state, o.state),
        "batch": o.batch,
        "priority": _priority(o.priority),
        "time_to_send": _iso_ms(o.time_to_send_us),
        "send_at": iso_ms(o.due_us),
        "moved_by": o.moved_by,
        "created_at": iso_ms(o.created_us),
        "dlr_url": o.dlr_url,
        "text_store": o.text_store,
        "channels": channels,
        "history": [_event(e) for e in found.history],
    }


def rescheduled_body(
    omni_id: str, state: str, tts_us: int, due_us: int, moved_by: str | None
) -> Rescheduled:
    return {
        "omnimessage_id": omni_id,
        "state": STATE_NAMES.get(state, state),
        "time_to_send": iso_ms(tts_us),
        "send_at": iso_ms(due_us),
        "moved_by": moved_by,
    }
