"""Receipt parsing, id normalisation and sender TON/NPI rules of the SMPP connector (no I/O)."""

from __future__ import annotations

import pytest

from tidings.channels.smpp.connector import sender_ton_npi, validity_period
from tidings.channels.smpp.link import DeliverEvent
from tidings.channels.smpp.receipts import id_candidates, normalise_id, parse_receipt

TEXT = (
    b"id:0A1B2C sub:001 dlvrd:001 submit date:2611271200 done date:2611271201 "
    b"stat:DELIVRD err:000 Text:hello world"
)


def test_parse_text_receipt() -> None:
    r = parse_receipt(DeliverEvent(0x04, "372", "Tidings", 0, TEXT))
    assert r is not None
    assert (r.message_id, r.stat, r.err) == ("0A1B2C", "DELIVRD", "000")
    assert r.fields["submit date"] == "2611271200" and r.fields["text"] == "hello world"


def test_tlvs_win_over_text() -> None:
    tlvs = {0x001E: b"777\x00", 0x0427: bytes([5])}
    r = parse_receipt(DeliverEvent(0x04, "372", "T", 0, TEXT, tlvs))
    assert r is not None and (r.message_id, r.stat) == ("777", "UNDELIV")


def test_mo_is_not_a_receipt() -> None:
    assert parse_receipt(DeliverEvent(0x00, "372", "T", 0, b"id:1 stat:DELIVRD")) is None


@pytest.mark.parametrize(
    ("raw", "stat"),
    [("EXPIRED", "EXPIRED"), ("undeliverable", "UNDELIV"), ("ENROUTE", "ENROUTE")],
)
def test_stat_variants(raw: str, stat: str) -> None:
    r = parse_receipt(DeliverEvent(0x04, "1", "2", 0, f"id:1 stat:{raw} err:002".encode()))
    assert r is not None and r.stat == stat


def test_id_normalisation() -> None:
    assert normalise_id(" 000123\x00") == "123"
    assert normalise_id("0") == "0"
    assert id_candidates("1000") == ["1000", "3e8", "4096"]
    assert id_candidates("3E8") == ["3e8", "1000"]
    assert id_candidates("abc-uuid") == ["abc-uuid"]


@pytest.mark.parametrize(
    ("sender", "expected"),
    [
        ("Tidings", ("Tidings", 5, 0)),
        ("My Shop 24", ("My Shop 24", 5, 0)),
        ("+37255501234", ("37255501234", 1, 1)),
        ("37255501234", ("37255501234", 1, 1)),
        ("12345678", ("12345678", 3, 0)),
        ("", ("", 0, 0)),
    ],
)
def test_sender_ton_npi(sender: str, expected: tuple[str, int, int]) -> None:
    assert sender_ton_npi(sender) == expected


def test_validity_period() -> None:
    assert validity_period(0) == ""
    assert validity_period(90061) == "000001010101000R"
