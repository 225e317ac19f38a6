"""How many SMS parts a text takes, and in which encoding: for previews (pure, no I/O).

GSM 03.38 (basic table: one septet; extension table ``\\f ^ { } \\ [ ~ ] | €``: two septets)
holds 160 septets in one part or 153 per part of a concatenated message; anything outside it
makes the whole text UCS-2, 70 UTF-16 units in one part or 67 per part. The counting itself
is `sms_encoding.count_segments`, the rule the SMPP connector sends by; this adds the figures
a person wants to see next to a bubble.
"""

from __future__ import annotations

from dataclasses import dataclass

from tidings.core.sms_encoding import (
    GSM_EXTENSION,
    GSM_PART_SEPTETS,
    GSM_SINGLE_SEPTETS,
    UCS2_PART_UNITS,
    UCS2_SINGLE_UNITS,
    autoconvert_text,
    count_segments,
)

__all__ = ["SmsSegments", "sms_segments"]


@dataclass(frozen=True, slots=True)
class SmsSegments:
    encoding: str  # "GSM-7" or "UCS-2"
    segments: int
    units: int  # septets (GSM-7) or UTF-16 code units (UCS-2) of the text as sent
    per_segment: int  # capacity of each part at this length: 160/153 or 70/67

    @property
    def label(self) -> str:
        parts = "part" if self.segments == 1 else "parts"
        return f"{self.encoding} · {self.segments} {parts} · {self.units}/{self.per_segment * self.segments}"


def sms_segments(text: str, autoconvert: str = "on") -> SmsSegments:
    """The encoding, part count and length of `text` as the SMS channel would send it."""
    encoding, segments = count_segments(text, autoconvert)
    converted = autoconvert_text(text, autoconvert)
    if encoding == "GSM-7":
        units = sum(2 if ch in GSM_EXTENSION else 1 for ch in converted)
        per = GSM_SINGLE_SEPTETS if segments == 1 else GSM_PART_SEPTETS
    else:
        units = sum(2 if ord(ch) > 0xFFFF else 1 for ch in converted)
        per = UCS2_SINGLE_UNITS if segments == 1 else UCS2_PART_UNITS
    return SmsSegments(encoding, segments, units, per)
