"""Delivery receipts: parse `deliver_sm` receipts, normalise SMSC message ids, map states."""

from __future__ import annotations

import re
from dataclasses import dataclass

from tidings.channels.smpp.link import (
    TLV_MESSAGE_STATE,
    TLV_NETWORK_ERROR_CODE,
    TLV_RECEIPTED_MESSAGE_ID,
    DeliverEvent,
)

# message_state TLV values (SMPP 3.4 §5.2.28) -> the receipt's 7-letter stat.
_STATE_NAMES = {
    1: "ENROUTE",
    2: "DELIVRD",
    3: "EXPIRED",
    4: "DELETED",
    5: "UNDELIV",
    6: "ACCEPTD",
    7: "UNKNOWN",
    8: "REJECTD",
}
_STAT_ALIASES = {
    "DELIVERED": "DELIVRD",
    "UNDELIVERABLE": "UNDELIV",
    "ACCEPTED": "ACCEPTD",
    "REJECTED": "REJECTD",
}

# SMPP stat -> (our status, err, final). DELETED becomes FAILED (a final failure in our
# model); UNKNOWN stays UNKNOWN (final for the SMSC, not a final state for us: the channel's
# validity decides); ENROUTE is reported as ACK.
STAT_MAP: dict[str, tuple[str, int, bool]] = {
    "DELIVRD": ("DELIVRD", 0, True),
    "UNDELIV": ("UNDELIV", 1, True),
    "EXPIRED": ("EXPIRED", 2, True),
    "REJECTD": ("REJECTD", 1, True),
    "DELETED": ("FAILED", 1, True),
    "UNKNOWN": ("UNKNOWN", 1, True),
    "ACCEPTD": ("ACCEPTD", 0, False),
    "ENROUTE": ("ACK", 0, False),
}

_FIELD = re.compile(
    r"(id|sub|dlvrd|submit date|done date|stat|err|text)\s*:\s*(.*?)"
    r"(?=\s+(?:id|sub|dlvrd|submit date|done date|stat|err|text)\s*:|$)",
    re.IGNORECASE | re.DOTALL,
)


@dataclass(frozen=True, slots=True)
class Receipt:
    message_id: str  # as the SMSC wrote it
    stat: str  # DELIVRD | UNDELIV | ... (normalised 7-letter form)
    err: str | None
    fields: dict[str, str]


def is_receipt(esm_class: int) -> bool:
    """SMSC delivery receipt (0x04) or intermediate notification (0x20)."""
    return (esm_class & 0x3C) in (0x04, 0x20)


def parse_receipt_text(text: str) -> dict[str, str]:
    return {m.group(1).lower(): m.group(2).strip() for m in _FIELD.finditer(text)}


def _cstr(value: bytes) -> str:
    return value.split(b"\x00", 1)[0].decode("latin-1").strip()


def parse_receipt(ev: DeliverEvent) -> Receipt | None:
    """The receipt in a deliver_sm, preferring the TLVs over the text; None if not one."""
    if not is_receipt(ev.esm_class):
        return None
    fields = parse_receipt_text(ev.short_message.decode("latin-1"))
    rid = ev.tlvs.get(TLV_RECEIPTED_MESSAGE_ID)
    message_id = _cstr(rid) if rid else fields.get("id", "")
    state = ev.tlvs.get(TLV_MESSAGE_STATE)
    stat = ""
    if state:
        stat = _STATE_NAMES.get(state[0], "")
    if not stat:
        raw = fields.get("stat", "").upper()
        stat = _STAT_ALIASES.get(raw, raw[:7])
    if not message_id or stat not in STAT_MAP:
        return None
    err = fields.get("err")
    nec = ev.tlvs.get(TLV_NETWORK_ERROR_CODE)
    if err is None and nec and len(nec) == 3:
        err = str(int.from_bytes(nec[1:], "big"))
    return Receipt(message_id, stat, err, fields)


def normalise_id(raw: str) -> str:
    """Canonical form of an SMSC id: trimmed, lower-case, leading zeros stripped."""
    s = raw.strip().strip("\x00").lower()
    stripped = s.lstrip("0")
    return stripped or ("0" if s else "")


def id_candidates(raw: str) -> list[str]:
    """Forms under which an id from a receipt may have been registered from the
    submit_sm_resp, best first: as-is, then decimal->hex and hex->decimal re-basing (the classic
    mismatch between a resp and its receipt)."""
    n = normalise_id(raw)
    out = [n]
    if n.isdigit():
        out.append(format(int(n), "x"))
    if n and all(c in "0123456789abcdef" for c in n) and len(n) <= 32:
        out.append(str(int(n, 16)))
    return list(dict.fromkeys(c for c in out if c))
