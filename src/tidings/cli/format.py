"""Pure helpers of the command-line client: building request bodies, parsing `--at`, and
rendering answers and errors as text. No I/O here, so all of it is unit-tested directly."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

CHANNELS = ("sms", "viber", "whatsapp", "rcs", "telegram")

AUTH_FAILED = (
    "authentication failed (check --username/--password or TIDINGS_USERNAME/TIDINGS_PASSWORD)"
)

# --- --at ------------------------------------------------------------------------------------

_RELATIVE = re.compile(r"\+((?:[0-9]+[smhd])+)", re.ASCII)
_RELATIVE_PART = re.compile(r"([0-9]+)([smhd])", re.ASCII)
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def resolve_at(value: str, now: datetime) -> str:
    """`--at` as sent in `time_to_send`.

    A relative time, `+` followed by one or more NUMBER+UNIT (`s`, `m`, `h`, `d`: `+10s`, `+5m`,
    `+1h30m`), becomes a UTC ISO 8601 time counted from `now`. Anything else is an absolute time
    and passes through unchanged: the server parses it (no offset means UTC).
    """
    value = value.strip()
    if not value.startswith("+"):
        return value
    match = _RELATIVE.fullmatch(value)
    if match is None:
        raise ValueError(
            f"{value!r} is not a relative time: use +N with a unit s, m, h or d, e.g. +10s, +5m, +1h30m"
        )
    seconds = sum(int(n) * _UNIT_SECONDS[unit] for n, unit in _RELATIVE_PART.findall(match[1]))
    if seconds > 400 * 86400:
        raise ValueError(f"{value!r} is too far ahead (at most about a year can be scheduled)")
    when = now.astimezone(UTC) + timedelta(seconds=seconds)
    return when.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


# --- building the omnimessage ----------------------------------------------------------------


def split_per_channel(
    values: Sequence[str], option: str, channels: Sequence[str]
) -> tuple[str | None, dict[str, str]]:
    """Values of an option that is either global (`--ttl 30`) or per channel (`--ttl viber=30`):
    the global value (or None) and the per-channel ones. Giving either twice is an error."""
    everywhere: str | None = None
    specific: dict[str, str] = {}
    for raw in values:
        name, sep, rest = raw.partition("=")
        if sep and name in CHANNELS:
            if name not in channels:
                raise ValueError(f"{option} {raw}: channel {name} is not in the chain")
            if name in specific:
                raise ValueError(f"{option} is given twice for {name}")
            specific[name] = rest
        else:
            if everywhere is not None:
                raise ValueError(
                    f"{option} is given twice; use {option} CHANNEL=VALUE for one channel"
                )
            everywhere = raw
    return everywhere, specific


def per_channel(values: Sequence[str], option: str, channels: Sequence[str]) -> dict[str, str]:
    """channel -> value for the channels of the chain; a per-channel value wins."""
    everywhere, specific = split_per_channel(values, option, channels)
    out = {c: specific.get(c, everywhere) for c in channels}
    return {c: v for c, v in out.items() if v is not None}


def _lifetime(
    channel: str,
    ttl: tuple[str | None, dict[str, str]],
    validity: tuple[str | None, dict[str, str]],
) -> tuple[int | None, int | None]:
    """(ttl, validity) of one channel: a per-channel value beats a global one of the other kind
    (`--validity 60 --ttl viber=5` gives viber only the ttl)."""
    ttl_here, validity_here = ttl[1].get(channel), validity[1].get(channel)
    if ttl_here is not None and validity_here is not None:
        raise ValueError(f"{channel}: give --ttl or --validity, not both")
    if ttl_here is None and validity_here is None:
        ttl_here, validity_here = ttl[0], validity[0]
        if ttl_here is not None and validity_here is not None:
            raise ValueError(f"{channel}: give --ttl or --validity, not both")
    return (
        None if ttl_here is None else _whole_number(ttl_here, "--ttl", channel),
        None if validity_here is None else _whole_number(validity_here, "--validity", channel),
    )


def _whole_number(value: str, option: str, channel: str) -> int:
    if not value.isdigit():
        raise ValueError(f"{option} for {channel}: {value!r} is not a whole number")
    return int(value)


def channel_object(
    channel: str,
    text: str,
    sender: str | None = None,
    ttl: int | None = None,
    validity: int | None = None,
) -> dict[str, Any]:
    """One entry of `messages`: `text` for sms/viber/telegram/rcs, `{"text":{"body":...}}` for
    WhatsApp; rcs needs a sender."""
    if channel not in CHANNELS:
        raise ValueError(f"unknown channel {channel!r} (one of {', '.join(CHANNELS)})")
    if channel == "rcs" and not sender:
        raise ValueError("rcs needs a sender (the RCS agent): --sender NAME or --sender rcs=NAME")
    obj: dict[str, Any] = {"channel": channel}
    if sender:
        obj["sender"] = sender
    obj["text"] = {"body": text} if channel == "whatsapp" else text
    if ttl is not None:
        obj["ttl"] = ttl
    if validity is not None:
        obj["validity"] = validity
    return obj


def build_omnimessage(
    to: str,
    channels: Sequence[str],
    texts: Sequence[str],
    *,
    senders: Sequence[str] = (),
    ttls: Sequence[str] = (),
    validities: Sequence[str] = (),
    at: str | None = None,
    dlr_url: str | None = None,
    priority: str | None = None,
    text_store: str | None = None,
) -> dict[str, Any]:
    """The `POST /v1/omnimessage` body. `channels[i]` pairs with `texts[i]`, in order; no
    `--channel` at all with a single `--text` means SMS. Raises ValueError for usage mistakes."""
    if not texts:
        raise ValueError("give the message with --text (and its channel with --channel)")
    chain = list(channels) or (["sms"] if len(texts) == 1 else [])
    if len(chain) != len(texts):
        raise ValueError(
            f"each --channel needs one --text, in the same order ({len(chain)} --channel, "
            f"{len(texts)} --text)"
        )
    sender_of = per_channel(senders, "--sender", chain)
    ttl_spec = split_per_channel(ttls, "--ttl", chain)
    validity_spec = split_per_channel(validities, "--validity", chain)
    messages = []
    for channel, text in zip(chain, texts, strict=True):
        ttl, validity = _lifetime(channel, ttl_spec, validity_spec)
        messages.append(channel_object(channel, text, sender_of.get(channel), ttl, validity))
    body: dict[str, Any] = {"to": to, "messages": messages}
    if at is not None:
        body["time_to_send"] = at
    if dlr_url is not None:
        body["dlr_url"] = dlr_url
    if priority is not None:
        body["priority"] = priority
    if text_store is not None:
        body["text_store"] = text_store
    return body


# --- text rendering --------------------------------------------------------------------------

_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]+")
_SPACES = re.compile(r"\s+")


def one_line(text: object) -> str:
    """A value as a single line without control characters (no terminal escapes from message
    content reach the screen)."""
    if text is None:
        return ""
    return _SPACES.sub(" ", _CONTROL.sub(" ", str(text))).strip()


def truncate(text: str, width: int) -> str:
    if width < 1:
        return ""
    return text if len(text) <= width else text[: max(width - 1, 0)] + "…"


def show_time(value: object) -> str:
    """A wire timestamp (`2024-05-01T12:00:00.123456Z`) as `2024-05-01 12:00:00` in UTC;
    `-` for none; anything unparseable as it came."""
    if not isinstance(value, str) or not value:
        return "-"
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return one_line(value)
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S")


def table(headers: Sequence[str], rows: Iterable[Sequence[object]]) -> list[str]:
    """Left-aligned columns separated by two spaces; the last column is not padded."""
    cells = [list(headers)] + [[one_line(c) for c in row] for row in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]
    lines = []
    for row in cells:
        padded = [c.ljust(w) for c, w in zip(row[:-1], widths[:-1], strict=True)] + [row[-1]]
        lines.append("  ".join(padded).rstrip())
    return lines


def _value(v: object) -> str:
    return "-" if v is None or v == "" else str(v)


def format_send(result: Mapping[str, Any], at: str | None = None) -> list[str]:
    head = f"omnimessage {result.get('omnimessage_id')} to {result.get('to')}"
    if at is not None:
        head += f", scheduled for {at}" + ("" if _has_offset(at) else " (UTC)")
    rows = [
        (_value(m.get("channel")), _value(m.get("message_id")), _value(m.get("sender")))
        for m in result.get("messages", [])
        if isinstance(m, Mapping)
    ]
    return [head, *table(("CHANNEL", "MESSAGE ID", "SENDER"), rows)]


def _has_offset(at: str) -> bool:
    return at.endswith("Z") or bool(re.search(r"T.*[+-][0-9]{2}:?[0-9]{2}$", at))


def format_status(result: Mapping[str, Any]) -> list[str]:
    head = f"omnimessage {result.get('omnimessage_id')} to {result.get('to')}"
    rows = [
        (
            _value(s.get("channel")),
            s.get("status") or "pending",
            _value(s.get("err")),
            _value(s.get("error")),
            show_time(s.get("timestamp")),
        )
        for s in result.get("statuses", [])
        if isinstance(s, Mapping)
    ]
    return [head, *table(("CHANNEL", "STATUS", "ERR", "ERROR", "TIMESTAMP (UTC)"), rows)]


# Inbox rows have fixed widths so that `inbox --follow` can print them one at a time, aligned.
_INBOX_WIDTHS = (19, 16, 8, 15)
_INBOX_HEADERS = ("TIME (UTC)", "TO", "CHANNEL", "SENDER", "TEXT")
INBOX_TEXT_WIDTH = 60


def _inbox_line(cells: Sequence[str], text_width: int) -> str:
    fixed = [truncate(c, w).ljust(w) for c, w in zip(cells[:-1], _INBOX_WIDTHS, strict=True)]
    return "  ".join([*fixed, truncate(cells[-1], text_width)]).rstrip()


def inbox_header(text_width: int = INBOX_TEXT_WIDTH) -> str:
    return _inbox_line(_INBOX_HEADERS, text_width)


def inbox_row(message: Mapping[str, Any], text_width: int = INBOX_TEXT_WIDTH) -> str:
    cells = (
        show_time(message.get("delivered_at")),
        one_line(message.get("to")),
        one_line(message.get("channel")),
        one_line(message.get("sender")),
        one_line(message.get("text")),
    )
    return _inbox_line(cells, text_width)


def inbox_text_width(terminal_columns: int) -> int:
    """What is left for the text after the fixed columns, at least 20 characters."""
    used = sum(_INBOX_WIDTHS) + 2 * len(_INBOX_WIDTHS)
    return max(20, terminal_columns - used)


def chronological(messages: Iterable[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    """The inbox answer is newest first; people read oldest first."""
    return sorted(messages, key=lambda m: str(m.get("delivered_at") or ""))


def format_inbox(
    messages: Sequence[Mapping[str, Any]], text_width: int = INBOX_TEXT_WIDTH
) -> list[str]:
    if not messages:
        return ["no messages"]
    return [inbox_header(text_width), *(inbox_row(m, text_width) for m in chronological(messages))]


# --- errors ----------------------------------------------------------------------------------


def format_error_item(item: Mapping[str, Any]) -> str:
    """`error 105 (Invalid data) at messages[0].text: text is required`."""
    code = item.get("code") or "?"
    title = item.get("title")
    out = f"error {code}"
    if title:
        out += f" ({one_line(title)})"
    if item.get("source"):
        out += f" at {one_line(item['source'])}"
    detail = one_line(item.get("detail"))
    return f"{out}: {detail}" if detail else out


def format_api_error(status: int, errors: Sequence[Mapping[str, Any]], body: str = "") -> list[str]:
    """The lines to print for an error answer."""
    if status == 401:
        return [AUTH_FAILED]
    if errors:
        return [format_error_item(e) for e in errors]
    snippet = truncate(one_line(body), 200)
    if 200 <= status < 300:
        return [f"unexpected answer from the server (HTTP {status}): {snippet or 'empty body'}"]
    return [f"HTTP {status}" + (f": {snippet}" if snippet else "")]
