from __future__ import annotations

import pytest

from tidings.core.segments import sms_segments


@pytest.mark.parametrize(
    ("text", "encoding", "segments", "units"),
    [
        ("", "GSM-7", 1, 0),
        ("Hello", "GSM-7", 1, 5),
        ("a" * 160, "GSM-7", 1, 160),
        ("a" * 161, "GSM-7", 2, 161),
        ("a" * 306, "GSM-7", 2, 306),
        ("a" * 307, "GSM-7", 3, 307),
        ("€" * 80, "GSM-7", 1, 160),  # extension table: two septets each
        ("€" * 81, "GSM-7", 2, 162),
        ("@£$¥èéùìòÇØøÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉÄÖÑÜ§¿äöñüà", "GSM-7", 1, 40),
        ("Привет", "UCS-2", 1, 6),
        ("я" * 70, "UCS-2", 1, 70),
        ("я" * 71, "UCS-2", 2, 71),
        ("я" * 134, "UCS-2", 2, 134),
        ("я" * 135, "UCS-2", 3, 135),
        ("😀" * 35, "UCS-2", 1, 70),  # astral: a surrogate pair, two units
        ("😀" * 36, "UCS-2", 2, 72),
    ],
)
def test_segments(text: str, encoding: str, segments: int, units: int) -> None:
    s = sms_segments(text)
    assert (s.encoding, s.segments, s.units) == (encoding, segments, units)


def test_per_segment_capacity() -> None:
    assert sms_segments("hi").per_segment == 160
    assert sms_segments("a" * 200).per_segment == 153
    assert sms_segments("ж").per_segment == 70
    assert sms_segments("ж" * 100).per_segment == 67


def test_autoconvert_on_replaces_smart_quotes_but_full_transliterates() -> None:
    assert sms_segments("\u201cquoted\u201d").encoding == "GSM-7"
    assert sms_segments("Привет", "off").encoding == "UCS-2"
    assert sms_segments("Привет", "full").encoding == "GSM-7"


def test_escape_pair_never_split_across_parts() -> None:
    # 152 plain septets then a two-septet character: the pair moves to the second part.
    assert sms_segments("a" * 152 + "€" + "a" * 10).segments == 2
    assert sms_segments("a" * 305 + "€").segments == 3


def test_label() -> None:
    assert sms_segments("Hello").label.startswith("GSM-7 · 1 part")
