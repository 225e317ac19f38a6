"""Decoding a mobile-originated SMS (an SMPP `deliver_sm` that is not a receipt): its user data
header (concatenation), its text by data coding (pure, no I/O).

- `data_coding` 0x00 (SMSC default alphabet): GSM 03.38 septets, one per octet (SMPP sends them
  unpacked), with the extension table after ESC; 0x01 IA5 (ASCII); 0x03 Latin-1; 0x08 UCS-2
  (UTF-16BE, surrogate pairs kept across the whole message); 0x02/0x04 binary (shown as hex).
  The general data coding group (0x0X with the class bits, 0xF0..0xFF) is read by its alphabet.
- Concatenation: a UDH (esm_class 0x40) with IE 0x00 (8-bit reference) or 0x08 (16-bit
  reference), or the `sar_*` TLVs.
"""

from __future__ import annotations

from dataclasses import dataclass

from tidings.core.sms_encoding import ESC, ESM_CLASS_UDHI, GSM_BASIC, GSM_EXTENSION

TLV_SAR_MSG_REF_NUM = 0x020C
TLV_SAR_TOTAL_SEGMENTS = 0x020E
TLV_SAR_SEGMENT_SEQNUM = 0x020F
TLV_MESSAGE_PAYLOAD = 0x0424

_GSM_CHARS = {code: ch for ch, code in GSM_BASIC.items()}
_GSM_EXT_CHARS = {code: ch for ch, code in GSM_EXTENSION.items()}


@dataclass(frozen=True, slots=True)
class Concat:
    """Where a part belongs: reference, total parts, this part's number (1-based)."""

    ref: int
    total: int
    seq: int


@dataclass(frozen=True, slots=True)
class MoPart:
    """One `deliver_sm`'s user data: its raw body (the UDH removed) and, if it is one part of a
    longer message, where it belongs."""

    data_coding: int
    body: bytes
    concat: Concat | None


def _ies(udh: bytes) -> Concat | None:
    i = 0
    while i + 2 <= len(udh):
        iei, length = udh[i], udh[i + 1]
        value = udh[i + 2 : i + 2 + length]
        if len(value) < length:
            return None
        if iei == 0x00 and length == 3:
            return Concat(value[0], value[1], value[2])
        if iei == 0x08 and length == 4:
            return Concat(int.from_bytes(value[:2], "big"), value[2], value[3])
        i += 2 + length
    return None


def split_user_data(
    esm_class: int, data_coding: int, short_message: bytes, tlvs: dict[int, bytes]
) -> MoPart:
    """The body and concatenation of one part (UDH or `sar_*` TLVs); `message_payload` is used
    when `short_message` is empty."""
    payload = short_message or tlvs.get(TLV_MESSAGE_PAYLOAD, b"")
    concat: Concat | None = None
    if esm_class & ESM_CLASS_UDHI and payload:
        udhl = payload[0]
        concat = _ies(payload[1 : 1 + udhl])
        payload = payload[1 + udhl :]
    ref, total, seq = (
        tlvs.get(TLV_SAR_MSG_REF_NUM),
        tlvs.get(TLV_SAR_TOTAL_SEGMENTS),
        tlvs.get(TLV_SAR_SEGMENT_SEQNUM),
    )
    if concat is None and ref and total and seq:
        concat = Concat(int.from_bytes(ref, "big"), total[0], seq[0])
    if concat is not None and not (1 <= concat.seq <= concat.total and concat.total > 1):
        concat = None  # a part that says it is alone, or that cannot be placed: taken as it is
    return MoPart(data_coding, payload, concat)


def _alphabet(data_coding: int) -> str:
    if data_coding & 0xF0 == 0xF0:  # data coding / message class group
        return "8bit" if data_coding & 0x04 else "gsm"
    if data_coding & 0xC0 == 0x00 and data_coding & 0x20 == 0 and data_coding & 0x10:
        return ("gsm", "8bit", "ucs2", "gsm")[(data_coding >> 2) & 0x03]  # general, with class
    return {0x00: "gsm", 0x01: "ascii", 0x03: "latin1", 0x08: "ucs2"}.get(data_coding, "8bit")


def decode_gsm(septets: bytes) -> str:
    out: list[str] = []
    escape = False
    for b in septets:
        code = b & 0x7F
        if escape:
            out.append(_GSM_EXT_CHARS.get(code, " "))
            escape = False
        elif code == ESC:
            escape = True
        else:
            out.append(_GSM_CHARS.get(code, "?"))
    return "".join(out)


def decode_body(data_coding: int, body: bytes) -> str:
    """The text of a whole message (all its parts' bodies joined, in order)."""
    alphabet = _alphabet(data_coding)
    if alphabet == "gsm":
        return decode_gsm(body)
    if alphabet == "ucs2":
        return body[: len(body) - len(body) % 2].decode("utf-16-be", errors="replace")
    if alphabet == "ascii":
        return body.decode("ascii", errors="replace")
    if alphabet == "latin1":
        return body.decode("latin-1")
    return body.hex()
