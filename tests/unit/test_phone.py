from __future__ import annotations

import pytest

from tidings.core.phone import normalise_msisdn


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("+37251234567", "+37251234567"),
        ("37251234567", "+37251234567"),
        ("+447911123456", "+447911123456"),
        ("+4407911123456", "+447911123456"),  # UK trunk 0 after the country code is dropped
        ("+14155552671", "+14155552671"),
        ("14155552671", "+14155552671"),
        ("+4915123456789", "+4915123456789"),
        ("+393123456789", "+393123456789"),
        ("+80012345678", "+80012345678"),  # international freephone (non-geographic)
        ("+61412345678", "+61412345678"),
    ],
)
def test_accepted(value: str, expected: str) -> None:
    assert normalise_msisdn(value) == expected


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("", "international format"),
        ("+", "international format"),
        ("++37251234567", "international format"),
        ("+372 5123 4567", "international format"),
        ("+372-5123-4567", "international format"),
        ("(372)51234567", "international format"),
        ("+37251234567 ", "international format"),
        ("+37251234567\n", "international format"),
        ("tel:+37251234567", "international format"),
        ("+٣٧٢٥١٢٣٤٥٦٧", "international format"),  # Arabic-Indic digits
        ("+1234567890123456", "at most 15 digits"),
        ("0037251234567", "country code"),
        ("051234567", "country code"),
        ("+999123456", "known country code"),
        ("+372512", "too short"),
        ("+3725123456789012", "at most 15 digits"),
        ("+372512345678901", "too long"),
        ("+4479111234567890", "at most 15 digits"),
        ("+12345678", "locally"),  # 7 national digits: local-only in NANP
        ("+37251234567890", "not a possible"),
    ],
)
def test_rejected(value: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        normalise_msisdn(value)


@pytest.mark.parametrize("value", [None, 37251234567, ["+37251234567"]])
def test_rejects_non_strings(value: object) -> None:
    with pytest.raises(ValueError, match="string"):
        normalise_msisdn(value)  # type: ignore[arg-type]


def test_answers_are_the_same_when_asked_again() -> None:
    """Valid numbers are remembered; a refused one is refused every time, not remembered."""
    for _ in range(2):
        assert normalise_msisdn("37251234567") == "+37251234567"
        with pytest.raises(ValueError, match="too short"):
            normalise_msisdn("+372512")
        with pytest.raises(ValueError, match="must be a string"):
            normalise_msisdn(["+37251234567"])  # type: ignore[arg-type]
