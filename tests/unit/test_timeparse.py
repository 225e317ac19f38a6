from __future__ import annotations

from datetime import UTC, datetime

import pytest

from tidings.core.timeparse import parse_time_to_send


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2019-06-22T09:05", datetime(2019, 6, 22, 9, 5, tzinfo=UTC)),
        ("2019-06-22T09:05:00", datetime(2019, 6, 22, 9, 5, tzinfo=UTC)),
        ("2019-06-22T09:05:07+04:00", datetime(2019, 6, 22, 5, 5, 7, tzinfo=UTC)),
        ("2018-06-22T09:05:07Z", datetime(2018, 6, 22, 9, 5, 7, tzinfo=UTC)),
        ("2030-01-02T03:04:05.123456+04:00", datetime(2030, 1, 1, 23, 4, 5, 123456, tzinfo=UTC)),
        ("2030-01-02T03:04:05.123456", datetime(2030, 1, 2, 3, 4, 5, 123456, tzinfo=UTC)),
        ("2030-01-02T03:04:05.5Z", datetime(2030, 1, 2, 3, 4, 5, 500000, tzinfo=UTC)),
        ("2030-01-02T03:04:05.123Z", datetime(2030, 1, 2, 3, 4, 5, 123000, tzinfo=UTC)),
        # .NET sends 7 digits, Java up to 9: truncated to microseconds, never rounded
        ("2030-01-02T03:04:05.1234567Z", datetime(2030, 1, 2, 3, 4, 5, 123456, tzinfo=UTC)),
        ("2030-01-02T03:04:05.999999999Z", datetime(2030, 1, 2, 3, 4, 5, 999999, tzinfo=UTC)),
        ("2019-06-22T09:05-02:30", datetime(2019, 6, 22, 11, 35, tzinfo=UTC)),
        ("2019-06-22T09:05:07+0400", datetime(2019, 6, 22, 5, 5, 7, tzinfo=UTC)),
        ("2019-06-22T09:05:07-00:00", datetime(2019, 6, 22, 9, 5, 7, tzinfo=UTC)),
        ("2019-06-22T01:00+05:00", datetime(2019, 6, 21, 20, 0, tzinfo=UTC)),  # crosses a day
        ("2020-02-29T12:00", datetime(2020, 2, 29, 12, 0, tzinfo=UTC)),
        ("2019-12-31T23:59:59-01:00", datetime(2020, 1, 1, 0, 59, 59, tzinfo=UTC)),
    ],
)
def test_accepted(text: str, expected: datetime) -> None:
    parsed = parse_time_to_send(text)
    assert parsed == expected
    assert parsed.tzinfo is UTC


@pytest.mark.parametrize(
    "value",
    [
        "2019-06-22",
        "garbage",
        "",
        "2019-13-01T00:00",
        "2019-00-01T00:00",
        "2019-02-30T00:00",
        "2019-02-29T00:00",
        "2019-06-31T00:00",
        "2019-06-22T24:00",
        "2019-06-22T09:60",
        "2019-06-22T09:05:60",
        "10000-01-01T00:00",
        "0000-01-01T00:00",
        "2019-06-22 09:05",
        "2019-06-22t09:05",
        "2019-06-22T09:05z",
        "2019-06-22T09",
        "2019-06-22T9:05",
        "2019-6-22T09:05",
        "19-06-22T09:05",
        " 2019-06-22T09:05",
        "2019-06-22T09:05 ",
        "2019-06-22T09:05\n",
        "2019-06-22T09:05:07.",
        "2019-06-22T09:05:07.1234567890",
        "2019-06-22T09:05.5",
        "2019-06-22T09:05:07+24:00",
        "2019-06-22T09:05:07+04:60",
        "2019-06-22T09:05:07+4:00",
        "2019-06-22T09:05:07+04",
        "2019-06-22T09:05:07UTC",
        "2019-W25-6T09:05",
        "2019-173T09:05",
        "20190622T090507Z",
        "0001-01-01T00:00+01:00",  # before year 1 in UTC
        "9999-12-31T23:59-01:00",  # after year 9999 in UTC
        "\uff12\uff10\uff11\uff19-06-22T09:05",  # fullwidth digits
        "1561194307",
    ],
)
def test_rejected_strings(value: str) -> None:
    with pytest.raises(ValueError):
        parse_time_to_send(value)


@pytest.mark.parametrize(
    "value", [None, 1561194307, 1561194307.5, True, ["2019-06-22T09:05"], {"t": 1}, b"x"]
)
def test_rejected_non_strings(value: object) -> None:
    with pytest.raises(ValueError, match="date-time string"):
        parse_time_to_send(value)


def test_date_only_message_says_time_is_missing() -> None:
    with pytest.raises(ValueError, match="date alone"):
        parse_time_to_send("2019-06-22")


def test_out_of_range_message_names_the_value() -> None:
    with pytest.raises(ValueError, match="2019-13-01T00:00"):
        parse_time_to_send("2019-13-01T00:00")


def test_answers_are_the_same_when_asked_again() -> None:
    """Accepted texts are remembered; a refused one is refused every time."""
    for _ in range(2):
        assert parse_time_to_send("2019-06-22T09:05:07+04:00") == datetime(
            2019, 6, 22, 5, 5, 7, tzinfo=UTC
        )
        with pytest.raises(ValueError, match="not a valid date-time"):
            parse_time_to_send("2019-02-30T09:05")
