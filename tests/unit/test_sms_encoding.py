"""GSM 03.38 / UCS-2 encoding and segmentation: known answers, and properties checked against
two independent implementations from PyPI (smsutil, gsm0338) used as oracles."""

from __future__ import annotations

import gsm0338  # noqa: F401  (registers the "gsm03.38" codec)
import pytest
import smsutil
from hypothesis import given, settings
from hypothesis import strategies as st

from tidings.core.sms_encoding import (
    GSM_BASIC,
    GSM_EXTENSION,
    SmsEncodingError,
    autoconvert_text,
    count_segments,
    encode_sms,
)

GSM_CHARS = "".join(sorted(set(GSM_BASIC) | set(GSM_EXTENSION)))
EXT_CHARS = "".join(GSM_EXTENSION)
UCS2_EXTRA = "жЖπ中ë😀🎉👍ç"


def _strip_udh(part: bytes, multipart: bool) -> bytes:
    if not multipart:
        return part
    assert part[:3] == b"\x05\x00\x03"
    return part[6:]


def _decode(enc: object) -> str:
    from tidings.core.sms_encoding import EncodedSms

    assert isinstance(enc, EncodedSms)
    multi = len(enc.parts) > 1
    body = b"".join(_strip_udh(p, multi) for p in enc.parts)
    return body.decode("gsm03.38") if enc.encoding == "GSM-7" else body.decode("utf-16-be")


# ---------- known answers ----------


def test_alphabet_matches_gsm0338_codec() -> None:
    for ch, code in GSM_BASIC.items():
        assert ch.encode("gsm03.38") == bytes([code])
    for ch, code in GSM_EXTENSION.items():
        assert ch.encode("gsm03.38") == bytes([0x1B, code])


def test_short_gsm() -> None:
    e = encode_sms("Hello {€}")
    assert e.encoding == "GSM-7" and e.data_coding == 0 and e.esm_class == 0
    assert e.parts == [b"Hello \x1b\x28\x1b\x65\x1b\x29"]
    assert e.segments == 1


@pytest.mark.parametrize(
    ("text", "segments"),
    [
        ("a" * 160, 1),
        ("a" * 161, 2),
        ("a" * 306, 2),
        ("a" * 307, 3),
        ("€" * 80, 1),
        ("€" * 81, 2),
        ("a" * 152 + "€" + "a" * 10, 2),  # ESC pair would straddle 153: part 1 takes 152
        ("ж" * 70, 1),
        ("ж" * 71, 2),
        ("ж" * 134, 2),
        ("ж" * 135, 3),
        ("😀" * 35, 1),
        ("😀" * 36, 2),  # 72 units -> 33 + 3 emoji
        ("ж" * 66 + "😀" + "ж" * 3, 2),  # 71 units; the pair would straddle unit 67
    ],
)
def test_segment_counts(text: str, segments: int) -> None:
    e = encode_sms(text, "off")
    assert e.segments == segments == len(e.parts)
    assert count_segments(text, "off")[1] == segments
    assert _decode(e) == text


def test_esc_pair_not_split() -> None:
    e = encode_sms("a" * 152 + "€" + "b" * 10)
    assert len(e.parts[0]) == 6 + 152 and e.parts[0][-1] != 0x1B
    assert e.parts[1][6:8] == b"\x1b\x65"


def test_three_part_gsm_udh() -> None:
    e = encode_sms("x" * 400, ref=0xAB)
    assert e.esm_class == 0x40 and e.segments == 3
    assert [p[:6] for p in e.parts] == [bytes([5, 0, 3, 0xAB, 3, i]) for i in (1, 2, 3)]
    assert [len(p) for p in e.parts] == [159, 159, 6 + 94]


def test_ucs2_emoji_surrogates_kept() -> None:
    text = "ж" * 66 + "😀" + "end"
    e = encode_sms(text)
    assert e.encoding == "UCS-2" and e.data_coding == 8
    assert len(e.parts[0]) == 6 + 132  # 66 units; the emoji moves to part 2
    assert e.parts[1][6:10] == "😀".encode("utf-16-be")


def test_autoconvert_on_keeps_gsm() -> None:
    text = "\u201eWuthering Heights\u201c \u2013 it\u2019s\u2026 fine\u00a0ok"
    assert encode_sms(text, "off").encoding == "UCS-2"
    e = encode_sms(text, "on")
    assert e.encoding == "GSM-7"
    assert e.text == '"Wuthering Heights" - it\'s... fine ok'


def test_autoconvert_on_leaves_other_chars() -> None:
    e = encode_sms("Привет “x”", "on")
    assert e.encoding == "UCS-2" and e.text == 'Привет "x"'


def test_autoconvert_full() -> None:
    assert autoconvert_text("Brontë ça Œuvre šž Привет 😀 Ω", "full") == (
        "Bronte Ça Oeuvre sz Privet ? Ω"
    )
    assert encode_sms("Brontë 😀 中", "full").encoding == "GSM-7"


def test_user_udh() -> None:
    e = encode_sms("hi", udh="0500030a0201")
    assert e.esm_class == 0x40 and e.parts == [bytes.fromhex("0500030a0201") + b"hi"]
    with pytest.raises(SmsEncodingError):
        encode_sms("a" * 154, udh="0500030a0201")
    assert encode_sms("a" * 153, udh="0500030a0201").segments == 1


# ---------- properties against the oracles ----------

gsm_text = st.text(alphabet=GSM_CHARS, min_size=1, max_size=500)
ext_heavy = st.text(alphabet=EXT_CHARS + "ab", min_size=1, max_size=400)
ucs2_text = st.text(alphabet=GSM_CHARS[:40] + UCS2_EXTRA, min_size=1, max_size=300)


def _oracle(text: str) -> tuple[str, int]:
    r = smsutil.split(text)
    enc = "GSM-7" if r.encoding == "gsm0338" else "UCS-2"
    return enc, len(r.parts)


@settings(max_examples=300, deadline=None)
@given(st.one_of(gsm_text, ext_heavy, ucs2_text))
def test_matches_smsutil(text: str) -> None:
    e = encode_sms(text, "off")
    assert (e.encoding, e.segments) == _oracle(text)
    assert count_segments(text, "off") == (e.encoding, e.segments)


@settings(max_examples=300, deadline=None)
@given(st.one_of(gsm_text, ext_heavy, ucs2_text, st.text(max_size=200)))
def test_roundtrip_and_limits(text: str) -> None:
    e = encode_sms(text, "off", ref=7)
    assert _decode(e) == text
    multi = e.segments > 1
    for i, p in enumerate(e.parts):
        body = _strip_udh(p, multi)
        if e.encoding == "GSM-7":
            assert len(body) <= (153 if multi else 160)
            assert body.decode("gsm03.38") is not None  # every part decodes on its own
        else:
            assert len(body) <= (134 if multi else 140)
            body.decode("utf-16-be")  # no lone surrogate at a part boundary
        if multi:
            assert p[:6] == bytes([5, 0, 3, 7, e.segments, i + 1])


@settings(max_examples=200, deadline=None)
@given(gsm_text)
def test_gsm_bytes_match_gsm0338(text: str) -> None:
    e = encode_sms(text, "off")
    multi = e.segments > 1
    assert b"".join(_strip_udh(p, multi) for p in e.parts) == text.encode("gsm03.38")


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=200))
def test_full_always_gsm(text: str) -> None:
    e = encode_sms(text, "full")
    assert e.encoding == "GSM-7"
    e.text.encode("gsm03.38")


@settings(max_examples=200, deadline=None)
@given(
    st.text(alphabet=GSM_CHARS + "\u201c\u201d\u2018\u2019\u2013\u2014\u2026\u00a0", max_size=300)
)
def test_on_keeps_lookalikes_gsm(text: str) -> None:
    assert encode_sms(text, "on").encoding == "GSM-7"


@settings(max_examples=300, deadline=None)
@given(
    st.sampled_from([150, 151, 152, 153, 154, 159, 160, 161, 305, 306, 307, 458, 459, 460]),
    st.sampled_from(["a", "€", "ж", "😀"]),
    st.integers(min_value=0, max_value=460),
)
def test_boundaries_match_smsutil(n: int, special: str, at: int) -> None:
    """Texts sized around 153/160 septets and 67/70 units, with an ESC char or a surrogate
    pair placed anywhere (in particular right on a part boundary)."""
    base = ("b" if special in "a€" else "ж") * n
    text = base[:at] + special + base[at:]
    e = encode_sms(text, "off")
    assert (e.encoding, e.segments) == _oracle(text)
    assert _decode(e) == text
