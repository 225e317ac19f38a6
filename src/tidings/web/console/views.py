"""What the templates show: messages as a phone would, times, timelines (pure, no I/O)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import orjson

from tidings.core.model import PRIORITIES
from tidings.core.render import render_text
from tidings.core.segments import SmsSegments, sms_segments
from tidings.store.records import (
    ChannelBrief,
    ChannelView,
    EventRow,
    InboundView,
    OmniBrief,
    SandboxMessage,
    Timeline,
)

CHANNEL_LABELS = {
    "sms": "SMS",
    "whatsapp": "WhatsApp",
    "rcs": "RCS",
    "viber": "Viber",
    "telegram": "Telegram",
}
FINAL_OK = {"DELIVRD", "SEEN", "ACK", "ACCEPTD"}
FINAL_BAD = {"UNDELIV", "FAILED", "REJECTD", "EXPIRED", "NACK", "UNKNOWN"}


def _dt(us: int) -> datetime:
    """UTC microseconds as a datetime, exactly (a float division would round)."""
    return datetime.fromtimestamp(us // 1_000_000, UTC).replace(microsecond=us % 1_000_000)


def iso(us: int | None) -> str:
    if us is None:
        return ""
    return _dt(us).isoformat(timespec="milliseconds")


def utc_label(us: int | None) -> str:
    if us is None:
        return "—"
    return _dt(us).strftime("%Y-%m-%d %H:%M:%S UTC")


def utc_ms_label(us: int | None) -> str:
    """To the millisecond: the timeline orders events that happen within one second."""
    if us is None:
        return "—"
    return _dt(us).strftime("%Y-%m-%d %H:%M:%S.") + f"{us % 1_000_000 // 1000:03d} UTC"


def status_class(status: str | None) -> str:
    if status is None:
        return "pending"
    if status == "DELETED":
        return "deleted"
    if status in FINAL_OK:
        return "ok"
    if status in FINAL_BAD:
        return "bad"
    return "pending"


def parse_content(content: str | None) -> dict[str, Any] | None:
    if content is None:
        return None
    try:
        data = orjson.loads(content)
    except orjson.JSONDecodeError:
        return None
    return data if isinstance(data, dict) else None


@dataclass(frozen=True, slots=True)
class Bubble:
    """One channel message as its channel would show it on a phone."""

    channel: str
    sender: str
    content: Mapping[str, Any] | None  # None: not stored (text_store sha256/nostore)
    text: str  # plain rendering, for previews and search hits
    sms: SmsSegments | None = None
    message_id: str = ""
    omnimessage_id: str = ""
    to: str = ""
    at_us: int | None = None
    reply: bool = False  # an inbound message: the recipient's answer (`to` is who wrote)

    @property
    def label(self) -> str:
        return CHANNEL_LABELS.get(self.channel, self.channel)


def bubble(
    channel: str,
    sender: str,
    content: str | None,
    *,
    message_id: str = "",
    omnimessage_id: str = "",
    to: str = "",
    at_us: int | None = None,
) -> Bubble:
    data = parse_content(content)
    text = render_text(channel, data) if data is not None else ""
    sms = None
    if channel == "sms" and data is not None:
        sms = sms_segments(str(data.get("text", "")), str(data.get("autoconvert", "on")))
    return Bubble(channel, sender, data, text, sms, message_id, omnimessage_id, to, at_us)


def inbox_bubble(m: SandboxMessage) -> Bubble:
    return bubble(
        m.channel,
        m.sender,
        m.content,
        message_id=m.message_id,
        omnimessage_id=m.omnimessage_id,
        to=m.to,
        at_us=m.delivered_us,
    )


def reply_bubble(v: InboundView) -> Bubble:
    """An inbound message, drawn in the conversation with the number that wrote it."""
    return Bubble(
        v.channel,
        v.sender,
        parse_content(v.content),
        v.text,
        message_id=v.id,
        to=v.sender,
        at_us=v.received_us,
        reply=True,
    )


def brief_bubble(c: ChannelBrief) -> Bubble:
    return bubble(c.channel, c.sender, c.content, omnimessage_id=c.omnimessage_id)


def channel_bubble(c: ChannelView, omni_id: str) -> Bubble:
    return bubble(c.channel, c.sender, c.content, message_id=c.id, omnimessage_id=omni_id)


@dataclass(slots=True)
class Conversation:
    to: str
    bubbles: list[Bubble] = field(default_factory=list)


def group_by_recipient(
    messages: Sequence[SandboxMessage], replies: Sequence[InboundView] = ()
) -> list[Conversation]:
    """Messages delivered and replies received as conversations (one per number), each newest
    first, ordered by each one's newest message."""
    bubbles = [inbox_bubble(m) for m in messages] + [reply_bubble(r) for r in replies]
    bubbles.sort(key=lambda b: (b.at_us or 0, b.message_id), reverse=True)
    groups: dict[str, Conversation] = {}
    for b in bubbles:
        groups.setdefault(b.to, Conversation(b.to)).bubbles.append(b)
    return list(groups.values())


def preview(o: OmniBrief) -> str:
    for c in o.channels:
        b = brief_bubble(c)
        if b.text:
            return b.text.splitlines()[0][:140]
    return "(content not stored)"


@dataclass(frozen=True, slots=True)
class Event:
    at_us: int
    kind: str  # accepted | scheduled | claimed | delivered | status | webhook | cancelled
    title: str
    detail: str = ""
    tone: str = "neutral"  # neutral | ok | bad | pending | deleted


def timeline_events(t: Timeline) -> list[Event]:
    """The life of one omnimessage, oldest first."""
    m = t.message
    priority = {v: k for k, v in PRIORITIES.items()}.get(m.priority, str(m.priority))
    events = [Event(m.created_us, "accepted", "Accepted", f"to {m.to}, priority {priority}")]
    if m.time_to_send_us is not None:
        events.append(Event(m.time_to_send_us, "scheduled", "Scheduled for", utc_label(m.due_us)))
    label = {
        c.id: f"{CHANNEL_LABELS.get(c.channel, c.channel)} (#{c.position + 1})" for c in m.channels
    }
    for d in t.deliveries:
        extra = f" ({d.handovers} handovers)" if d.handovers > 1 else ""
        events.append(
            Event(
                d.delivered_us,
                "delivered",
                f"{label.get(d.message_id, d.channel)}: arrived in the sandbox inbox{extra}",
                tone="ok",
            )
        )
    for e in t.history:  # the event log: every status and every connector answer, in order
        where = label.get(e.message_id, e.message_id)
        if e.kind == "status":
            body = {"status": e.status, "err": e.err, "error": e.error}
            events.append(_status_event(where, e.at_us, body))
        elif e.kind == "lifecycle":
            title = _LIFECYCLE.get(e.outcome or "", e.outcome or "")
            events.append(Event(e.at_us, "scheduled", title, utc_label(e.due_us), "pending"))
        else:
            events.append(_attempt_event(where, e))
    report_of = {r.id: r for r in t.reports}
    for a in t.attempts:
        rep = report_of.get(a.webhook_id)
        what = ""
        if rep is not None:
            what = str((parse_content(rep.body) or {}).get("status", ""))
        answer = f"HTTP {a.status_code}" if a.status_code is not None else (a.error or "no answer")
        took = f" in {a.duration_ms:.0f} ms" if a.duration_ms is not None else ""
        ok = a.status_code is not None and 200 <= a.status_code < 400
        events.append(
            Event(
                a.at_us,
                "webhook",
                f"Delivery report {what} → attempt {a.attempt}: {answer}",
                f"POST {a.url}{took}" + (f" — {a.error}" if a.error and a.status_code else ""),
                "ok" if ok else "bad",
            )
        )
    events.sort(key=lambda e: e.at_us)
    return events


_LIFECYCLE = {
    "rescheduled": "Rescheduled — now due",
    "paused": "Paused (its batch) — was due",
    "resumed": "Resumed — due",
}

_ANSWERS = {
    "accepted": ("claimed and handed to the channel", "ok"),
    "retry": ("handed to the channel — not taken, will retry", "pending"),
    "rejected": ("handed to the channel — refused", "bad"),
    "unknown": ("handed to the channel — no answer (unknown, never resent blindly)", "bad"),
}


def _attempt_event(label: str, e: EventRow) -> Event:
    title, tone = _ANSWERS.get(e.outcome or "", (e.outcome or "attempt", "neutral"))
    parts = [f"via {e.connector}"] if e.connector else []
    if e.provider_ref:
        parts.append(f"ref {e.provider_ref}")
    if e.error:
        parts.append(e.error)
    return Event(e.at_us, "claimed", f"{label}: {title}", " · ".join(parts), tone)


def _status_event(label: str, at_us: int, body: Mapping[str, Any]) -> Event:
    status = body.get("status")
    err, error = body.get("err"), body.get("error")
    parts = []
    if err is not None:
        parts.append(f"err {err}")
    if error:
        parts.append(str(error))
    title = f"{label}: status {status}"
    if status == "DELETED":
        title = f"{label}: cancelled — status DELETED"
    return Event(at_us, "status", title, " · ".join(parts), status_class(status))
