"""Mobile-originated SMS: user data headers, data codings, and joining concatenated parts."""

from __future__ import annotations

import pytest

from tidings.channels.smpp.mo import MAX_WAIT_S, Reassembler
from tidings.core.sms_decoding import (
    TLV_MESSAGE_PAYLOAD,
    TLV_SAR_MSG_REF_NUM,
    TLV_SAR_SEGMENT_SEQNUM,
    TLV_SAR_TOTAL_SEGMENTS,
    Concat,
    decode_body,
    decode_gsm,
    split_user_data,
)
from tidings.core.sms_encoding import encode_sms


def test_gsm_septets_with_the_extension_table() -> None:
    # "Hi @€[" : H i space @(0x00) ESC e(€) ESC <([)
    assert decode_gsm(bytes([0x48, 0x69, 0x20, 0x00, 0x1B, 0x65, 0x1B, 0x3C])) == "Hi @€["
    assert decode_body(0x00, bytes([0x11, 0x0B])) == "_Ø"


@pytest.mark.parametrize(
    ("coding", "body", "text"),
    [
        (0x08, "Tere 👋".encode("utf-16-be"), "Tere 👋"),
        (0x01, b"plain", "plain"),
        (0x03, "õun".encode("latin-1"), "õun"),
        (0x04, b"\x01\xff", "01ff"),  # binary: shown as hex
        (0xF0, bytes([0x41]), "A"),  # message class group, GSM alphabet
        (0xF4, b"\x01", "01"),  # message class group, 8-bit
        (0x18, "ж".encode("utf-16-be"), "ж"),  # general group with class, UCS-2
    ],
)
def test_data_codings(coding: int, body: bytes, text: str) -> None:
    assert decode_body(coding, body) == text


def test_udh_8_and_16_bit_references() -> None:
    part = split_user_data(0x40, 0x08, bytes([5, 0, 3, 7, 2, 1]) + "ab".encode("utf-16-be"), {})
    assert part.concat == Concat(7, 2, 1) and part.body == "ab".encode("utf-16-be")
    part = split_user_data(0x40, 0x00, bytes([6, 8, 4, 1, 2, 3, 2]) + b"\x41", {})
    assert part.concat == Concat(258, 3, 2) and part.body == b"\x41"


def test_udh_without_concatenation_and_a_part_that_says_it_is_alone() -> None:
    # Some other IE (0x24, national language) only: the body is what follows the UDH.
    part = split_user_data(0x40, 0x00, bytes([3, 0x24, 1, 1]) + b"\x41", {})
    assert part.concat is None and part.body == b"\x41"
    part = split_user_data(0x40, 0x00, bytes([5, 0, 3, 9, 1, 1]) + b"\x41", {})
    assert part.concat is None  # 1 of 1
    part = split_user_data(0x40, 0x00, bytes([5, 0, 3, 9, 2, 3]) + b"\x41", {})
    assert part.concat is None  # 3 of 2 cannot be placed


def test_truncated_udh_does_not_raise() -> None:
    part = split_user_data(0x40, 0x00, bytes([9, 0, 3]), {})
    assert part.concat is None and part.body == b""


def test_sar_tlvs_and_message_payload() -> None:
    tlvs = {
        TLV_SAR_MSG_REF_NUM: (513).to_bytes(2, "big"),
        TLV_SAR_TOTAL_SEGMENTS: b"\x02",
        TLV_SAR_SEGMENT_SEQNUM: b"\x02",
        TLV_MESSAGE_PAYLOAD: b"\x41\x42",
    }
    part = split_user_data(0, 0x00, b"", tlvs)
    assert part.concat == Concat(513, 2, 2) and part.body == b"\x41\x42"


def _parts(text: str) -> list[bytes]:
    enc = encode_sms(text, "off", ref=42)
    return enc.parts


def test_concatenated_ucs2_joined_in_any_order_with_a_surrogate_pair_split() -> None:
    text = "Привет! " * 20 + "🎉" + "конец"
    parts = _parts(text)
    assert len(parts) >= 3
    r = Reassembler()
    got = [r.add("372", "1", split_user_data(0x40, 0x08, p, {}), 0.0) for p in reversed(parts)]
    assert got[:-1] == [None] * (len(parts) - 1)
    assert got[-1] == text and r.pending == 0


def test_concatenated_gsm7() -> None:
    text = "A long reply with € and [brackets] " * 8
    parts = _parts(text)
    assert len(parts) >= 2
    r = Reassembler()
    out = [r.add("372", "1", split_user_data(0x40, 0x00, p, {}), 0.0) for p in parts]
    assert out[-1] == text


def test_parts_of_different_senders_do_not_mix_and_stale_parts_expire() -> None:
    r = Reassembler()
    a1, a2 = (bytes([5, 0, 3, 1, 2, n]) + c.encode("utf-16-be") for n, c in ((1, "a"), (2, "b")))
    assert r.add("1", "9", split_user_data(0x40, 8, a1, {}), 0.0) is None
    assert r.add("2", "9", split_user_data(0x40, 8, a2, {}), 0.0) is None  # other sender
    assert r.pending == 2
    assert r.add("1", "9", split_user_data(0x40, 8, a2, {}), 1.0) == "ab"
    r.add("3", "9", split_user_data(0, 0, b"\x41", {}), MAX_WAIT_S + 1)  # sender 2's part expires
    assert r.pending == 0


def test_a_single_part_is_whole_at_once() -> None:
    r = Reassembler()
    assert r.add("1", "9", split_user_data(0, 8, "Tšau".encode("utf-16-be"), {}), 0.0) == "Tšau"
