"""Validation of `POST /v1/omnimessage` and `POST /v1/omnimessages` bodies (pure, no I/O).

Every problem found is reported at once (up to `MAX_ERRORS`), each with the precise field in
`source`, as "Missing data" (106) for a required field that is absent or null and "Invalid data"
(105) for everything else. A body that is not a JSON object has source null (or, for a bulk item,
the item's own path). Unknown fields are ignored and dropped from the result; null in an optional
field means absent. Channel objects are checked by `validation_channels`.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from tidings.core._fields import MAX_ERRORS, Node, Problems, json_type
from tidings.core.errors import RequestInvalid, invalid
from tidings.core.model import (
    CHANNELS,
    PRIORITIES,
    TEXT_STORES,
    ChannelRequest,
    Limits,
    OmnimessageRequest,
)
from tidings.core.phone import normalise_msisdn
from tidings.core.timeparse import parse_time_to_send
from tidings.core.validation_channels import validate_channel

__all__ = ["MAX_CHANNEL_MESSAGES", "MAX_ERRORS", "validate_bulk", "validate_omnimessage"]

# More than there are channels, since none may repeat; the cap only bounds the work on bad input.
MAX_CHANNEL_MESSAGES = 10
TO_MAX_LEN = 32


def validate_omnimessage(
    data: object, *, now: datetime, limits: Limits, prefix: str = ""
) -> OmnimessageRequest:
    """Validate one omnimessage; raise RequestInvalid listing every problem found.

    `now` decides whether `time_to_send` is too far ahead (a naive `now` is taken as UTC).
    `prefix` is prepended to every source, e.g. ``messages[3].`` gives ``messages[3].to``.
    A `time_to_send` that is now or past is kept as given: the engine sends it at once.
    """
    problems = Problems()
    path = prefix.removesuffix(".")
    result = _omnimessage(data, path, now=now, limits=limits, problems=problems)
    if result is None or problems.total:
        raise RequestInvalid(problems.items)
    return result


def validate_bulk(
    data: object, *, now: datetime, limits: Limits
) -> list[OmnimessageRequest | RequestInvalid]:
    """Validate a bulk envelope ``{"messages": [omnimessage, ...]}``.

    A bad envelope (not an object, `messages` missing, not an array, empty, or longer than
    `limits.max_bulk`) raises RequestInvalid for the whole request. Otherwise each item is
    validated on its own, with sources prefixed ``messages[i].``, and the result holds, in order,
    either the validated request or the RequestInvalid describing that item.
    """
    if not isinstance(data, dict):
        detail = f"the request body must be a JSON object, got {json_type(data)}"
        raise RequestInvalid([invalid(detail, None)])
    problems = Problems()
    items = Node(data, "", problems).array(
        "messages", required=True, min_items=1, max_items=limits.max_bulk
    )
    if items is None:
        raise RequestInvalid(problems.items)
    results: list[OmnimessageRequest | RequestInvalid] = []
    for i, item in enumerate(items):
        try:
            results.append(
                validate_omnimessage(item, now=now, limits=limits, prefix=f"messages[{i}].")
            )
        except RequestInvalid as exc:
            results.append(exc)
    return results


def _omnimessage(
    data: object, path: str, *, now: datetime, limits: Limits, problems: Problems
) -> OmnimessageRequest | None:
    if not isinstance(data, dict):
        what = "an omnimessage" if path else "the request body"
        problems.invalid(path or None, f"{what} must be a JSON object, got {json_type(data)}")
        return None
    node = Node(data, path, problems)
    to = _recipient(node)
    messages = _channel_messages(node, limits)
    time_to_send = _time_to_send(node, now, limits)
    dlr_url = node.url("dlr_url")
    text_store = node.string("text_store", choices=TEXT_STORES) or "plaintext"
    priority = node.string("priority", choices=tuple(PRIORITIES)) or "regular"
    if to is None or messages is None:
        return None
    return OmnimessageRequest(
        to=to,
        messages=messages,
        time_to_send=time_to_send,
        dlr_url=dlr_url,
        text_store=text_store,
        priority=priority,
    )


def _recipient(node: Node) -> str | None:
    to = node.string("to", required=True, max_len=TO_MAX_LEN)
    if to is None:
        return None
    try:
        return normalise_msisdn(to)
    except ValueError as exc:
        node.invalid("to", str(exc))
        return None


def _channel_messages(node: Node, limits: Limits) -> tuple[ChannelRequest, ...] | None:
    items = node.array("messages", required=True, min_items=1, max_items=MAX_CHANNEL_MESSAGES)
    if items is None:
        return None
    seen: set[str] = set()
    result: list[ChannelRequest] = []
    for i, item in enumerate(items):
        path = f"{node.at('messages')}[{i}]"
        channel = item.get("channel") if isinstance(item, dict) else None
        if isinstance(channel, str) and channel in CHANNELS:
            if channel in seen:
                node.p.invalid(
                    f"{path}.channel",
                    f"channel {channel} appears more than once in messages; "
                    "each channel may be used once",
                )
            seen.add(channel)
        validated = validate_channel(item, path, limits, node.p)
        if validated is not None:
            result.append(validated)
    return tuple(result) if len(result) == len(items) else None


def _time_to_send(node: Node, now: datetime, limits: Limits) -> datetime | None:
    value = node.data.get("time_to_send")
    if value is None:
        return None
    try:
        when = parse_time_to_send(value)
    except ValueError as exc:
        node.invalid("time_to_send", f"time_to_send: {exc}")
        return None
    if now.tzinfo is None:
        now = now.replace(tzinfo=UTC)
    horizon = timedelta(seconds=limits.max_schedule_ahead_s)
    if when - now > horizon:
        node.invalid(
            "time_to_send",
            f"time_to_send is too far ahead: at most {_describe(horizon)} from now "
            f"(latest {(now + horizon).astimezone(UTC).isoformat(timespec='seconds')})",
        )
        return None
    return when


def _describe(span: timedelta) -> str:
    if span.seconds == 0 and span.microseconds == 0:
        return f"{span.days} days"
    return f"{int(span.total_seconds())} seconds"
