"""SMS encoding and segmentation: GSM 03.38 (7-bit default alphabet) or UCS-2, pure Python.

Rules (3GPP TS 23.038 / 23.040, SMPP 3.4):

- A text is sent as GSM-7 when every character is in the default alphabet or its extension
  table (the extension characters ``\\f ^ { } \\ [ ~ ] | €`` cost two septets: ESC + code);
  otherwise the whole text is sent as UCS-2 (UTF-16BE; astral characters such as emoji take
  two code units, a surrogate pair).
- One part holds 160 septets (GSM-7) or 70 UTF-16 units (UCS-2). A longer text is split into
  concatenated parts of 153 septets / 67 units, each prefixed with an 8-bit reference UDH
  (``05 00 03 ref total seq``, IEI 0x00) and sent with the UDHI bit (esm_class 0x40). An ESC
  pair or a surrogate pair is never split across parts (that part is one unit shorter).
- GSM-7 payloads are *unpacked* (one septet per octet), as SMPP ``short_message`` normally
  carries them with ``data_coding`` 0; the SMSC packs them for the air interface.
- A caller-supplied ``udh`` (hex, as in Messente's API) is prepended as given to a single
  part, and the UDHI bit is set. There is no automatic concatenation then: the caller owns
  the UDH. The text must fit in what remains of the 140 octets; otherwise
  :class:`SmsEncodingError` is raised.

``autoconvert`` (Messente semantics):

- ``on`` (default): replace common look-alikes (smart quotes, dashes, ellipsis, no-break and
  other spaces, bullets, ``ç``...) with GSM characters; other characters are left alone, so a
  text that contains e.g. Cyrillic is still sent as UCS-2 (with the look-alikes replaced).
- ``full``: replace every non-GSM character: the table above, then NFKD with combining marks
  stripped (``ë`` → ``e``), then ``anyascii`` transliteration when it yields GSM characters
  (``Привет`` → ``Privet``) except for emoji and other symbols, then ``?``.
- ``off``: leave the text as it is.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from typing import Literal

from anyascii import anyascii

Encoding = Literal["GSM-7", "UCS-2"]

DATA_CODING_GSM7 = 0x00  # SMSC default alphabet
DATA_CODING_UCS2 = 0x08
ESM_CLASS_UDHI = 0x40

GSM_SINGLE_SEPTETS = 160
GSM_PART_SEPTETS = 153
UCS2_SINGLE_UNITS = 70
UCS2_PART_UNITS = 67
MAX_PAYLOAD_OCTETS = 140
ESC = 0x1B

# The GSM 03.38 default alphabet, in code order (0x00..0x7F); index 0x1B is ESC.
_BASIC = (
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞ\x1bÆæßÉ"
    " !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§"
    "¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
assert len(_BASIC) == 128
GSM_BASIC: dict[str, int] = {ch: i for i, ch in enumerate(_BASIC) if i != ESC}
GSM_EXTENSION: dict[str, int] = {
    "\f": 0x0A,
    "^": 0x14,
    "{": 0x28,
    "}": 0x29,
    "\\": 0x2F,
    "[": 0x3C,
    "~": 0x3D,
    "]": 0x3E,
    "|": 0x40,
    "€": 0x65,
}

# autoconvert=on: look-alikes replaced by GSM characters (Messente's "Auto Replace" spirit).
COMMON_REPLACEMENTS: dict[str, str] = {
    "\u2018": "'",  # left single quotation mark
    "\u2019": "'",  # right single quotation mark
    "\u201a": "'",  # single low-9 quotation mark
    "\u201b": "'",  # single high-reversed-9 quotation mark
    "\u2032": "'",  # prime
    "\u00b4": "'",  # acute accent
    "`": "'",
    "\u201c": '"',  # left double quotation mark
    "\u201d": '"',  # right double quotation mark
    "\u201e": '"',  # double low-9 quotation mark
    "\u201f": '"',  # double high-reversed-9 quotation mark
    "\u2033": '"',  # double prime
    "\u00ab": '"',  # left-pointing double angle quotation mark
    "\u00bb": '"',  # right-pointing double angle quotation mark
    "\u2039": "<",  # single left-pointing angle quotation mark
    "\u203a": ">",  # single right-pointing angle quotation mark
    "\u2010": "-",  # hyphen
    "\u2011": "-",  # non-breaking hyphen
    "\u2012": "-",  # figure dash
    "\u2013": "-",  # en dash
    "\u2014": "-",  # em dash
    "\u2015": "-",  # horizontal bar
    "\u2212": "-",  # minus sign
    "\u00ad": "",  # soft hyphen
    "\u2026": "...",  # horizontal ellipsis
    "\u00a0": " ",  # no-break space
    "\u2002": " ",
    "\u2003": " ",
    "\u2007": " ",
    "\u2009": " ",
    "\u200a": " ",
    "\u202f": " ",
    "\u200b": "",  # zero width space
    "\u200c": "",
    "\u200d": "",
    "\ufeff": "",
    "\t": " ",
    "\u2022": "-",  # bullet
    "\u00b7": ".",  # middle dot
    "\u00e7": "Ç",  # latin small letter c with cedilla
    "\u2122": "TM",
    "\u00a9": "(c)",
    "\u00ae": "(R)",
}


class SmsEncodingError(ValueError):
    """The text cannot be encoded as asked (e.g. it does not fit next to a caller's UDH)."""


@dataclass(frozen=True, slots=True)
class EncodedSms:
    data_coding: int
    parts: list[bytes]  # short_message payloads, each including its UDH if any
    esm_class: int
    segments: int
    encoding: Encoding
    text: str = ""  # the text actually encoded (after autoconvert)


def is_gsm(ch: str) -> bool:
    return ch in GSM_BASIC or ch in GSM_EXTENSION


def is_gsm_text(text: str) -> bool:
    return all(ch in GSM_BASIC or ch in GSM_EXTENSION for ch in text)


def _gsm_or_none(s: str) -> str | None:
    return s if is_gsm_text(s) else None


def _convert_full_char(ch: str) -> str:
    rep = COMMON_REPLACEMENTS.get(ch)
    if rep is not None:
        return rep
    stripped = "".join(c for c in unicodedata.normalize("NFKD", ch) if not unicodedata.combining(c))
    if stripped and is_gsm_text(stripped):
        return stripped
    if unicodedata.category(ch)[0] in "LN":  # letters/digits only: no ":grinning:" for emoji
        translit = anyascii(ch)
        if translit and is_gsm_text(translit):
            return translit
    return "?"


def autoconvert_text(text: str, mode: str = "on") -> str:
    """Apply Messente's autoconvert mode (`on` | `full` | `off`) and return the new text."""
    if mode == "off" or is_gsm_text(text):
        return text
    out: list[str] = []
    if mode == "full":
        for ch in text:
            out.append(ch if is_gsm(ch) else _convert_full_char(ch))
    else:
        for ch in text:
            if is_gsm(ch):
                out.append(ch)
            else:
                rep = COMMON_REPLACEMENTS.get(ch)
                out.append(rep if rep is not None else ch)
    return "".join(out)


def gsm_septets(text: str) -> bytes:
    """Unpacked GSM 03.38 septets (one per octet, ESC pairs for the extension table)."""
    out = bytearray()
    for ch in text:
        code = GSM_BASIC.get(ch)
        if code is not None:
            out.append(code)
            continue
        ext = GSM_EXTENSION.get(ch)
        if ext is None:
            raise SmsEncodingError(f"character {ch!r} is not in the GSM 03.38 alphabet")
        out += bytes((ESC, ext))
    return bytes(out)


def _gsm_chunks(text: str, size: int) -> list[bytes]:
    """Split into chunks of at most `size` septets without cutting an ESC pair."""
    chunks: list[bytes] = []
    cur = bytearray()
    for ch in text:
        enc = gsm_septets(ch)
        if len(cur) + len(enc) > size:
            chunks.append(bytes(cur))
            cur = bytearray()
        cur += enc
    if cur or not chunks:
        chunks.append(bytes(cur))
    return chunks


def _ucs2_chunks(text: str, units: int) -> list[bytes]:
    """Split UTF-16BE into chunks of at most `units` code units, surrogate pairs kept whole."""
    chunks: list[bytes] = []
    cur = bytearray()
    for ch in text:
        enc = ch.encode("utf-16-be")
        if len(cur) + len(enc) > units * 2:
            chunks.append(bytes(cur))
            cur = bytearray()
        cur += enc
    if cur or not chunks:
        chunks.append(bytes(cur))
    return chunks


def concat_udh(ref: int, total: int, seq: int) -> bytes:
    """8-bit reference concatenation UDH: UDHL=5, IEI=0x00, IEDL=3, ref, total, seq."""
    return bytes((0x05, 0x00, 0x03, ref & 0xFF, total, seq))


def _choose(text: str, autoconvert: str) -> tuple[str, Encoding]:
    converted = autoconvert_text(text, autoconvert)
    return converted, ("GSM-7" if is_gsm_text(converted) else "UCS-2")


def encode_sms(
    text: str, autoconvert: str = "on", *, udh: str | bytes | None = None, ref: int = 0
) -> EncodedSms:
    """Encode `text` into SMPP short_message payloads (see the module docstring).

    `ref` is the concatenation reference (0..255) to put in the UDH of a multipart message;
    the caller keeps a rolling counter. `udh` is a caller-supplied UDH (hex or bytes).
    """
    converted, encoding = _choose(text, autoconvert)
    dcs = DATA_CODING_GSM7 if encoding == "GSM-7" else DATA_CODING_UCS2
    if udh is not None:
        head = bytes.fromhex(udh) if isinstance(udh, str) else bytes(udh)
        room = MAX_PAYLOAD_OCTETS - len(head)
        if encoding == "GSM-7":
            body = gsm_septets(converted)
            fits = len(body) <= (room * 8) // 7
        else:
            body = converted.encode("utf-16-be")
            fits = len(body) <= (room // 2) * 2
        if room < 0 or not fits:
            raise SmsEncodingError("the text does not fit in one SMS next to the given udh")
        esm = ESM_CLASS_UDHI if head else 0
        return EncodedSms(dcs, [head + body], esm, 1, encoding, converted)
    if encoding == "GSM-7":
        single = gsm_septets(converted)
        if len(single) <= GSM_SINGLE_SEPTETS:
            return EncodedSms(dcs, [single], 0, 1, encoding, converted)
        chunks = _gsm_chunks(converted, GSM_PART_SEPTETS)
    else:
        single = converted.encode("utf-16-be")
        if len(single) <= UCS2_SINGLE_UNITS * 2:
            return EncodedSms(dcs, [single], 0, 1, encoding, converted)
        chunks = _ucs2_chunks(converted, UCS2_PART_UNITS)
    total = len(chunks)
    if total > 255:
        raise SmsEncodingError("the text needs more than 255 parts")
    parts = [concat_udh(ref, total, i + 1) + c for i, c in enumerate(chunks)]
    return EncodedSms(dcs, parts, ESM_CLASS_UDHI, total, encoding, converted)


def _count_gsm(text: str) -> int:
    n = sum(2 if ch in GSM_EXTENSION else 1 for ch in text)
    if n <= GSM_SINGLE_SEPTETS:
        return 1
    parts, cur = 1, 0
    for ch in text:
        w = 2 if ch in GSM_EXTENSION else 1
        if cur + w > GSM_PART_SEPTETS:
            parts, cur = parts + 1, 0
        cur += w
    return parts


def _count_ucs2(text: str) -> int:
    n = sum(2 if ord(ch) > 0xFFFF else 1 for ch in text)
    if n <= UCS2_SINGLE_UNITS:
        return 1
    parts, cur = 1, 0
    for ch in text:
        w = 2 if ord(ch) > 0xFFFF else 1
        if cur + w > UCS2_PART_UNITS:
            parts, cur = parts + 1, 0
        cur += w
    return parts


def count_segments(text: str, autoconvert: str = "on") -> tuple[str, int]:
    """(encoding, number of SMS parts) for `text` after `autoconvert`, without building bytes."""
    converted, encoding = _choose(text, autoconvert)
    if encoding == "GSM-7":
        return encoding, _count_gsm(converted)
    return encoding, _count_ucs2(converted)
