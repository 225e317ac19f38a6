"""Quiet hours, table-driven over real zone data: holding to the window's end, around midnight,
across the DST changes of Europe/Tallinn and America/New_York, in gaps and repeated hours, for
numbers in several zones, and not at all for numbers without zone data."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tidings.core.quiet_hours import QuietHours, QuietHoursInvalid, release_us, zones_for

TALLINN = ZoneInfo("Europe/Tallinn")
NEW_YORK = ZoneInfo("America/New_York")
NIGHT = QuietHours.parse("21:00-08:00")
UTC_ZONE = ZoneInfo("UTC")


def us(text: str) -> int:
    """An ISO instant with its offset, as UTC microseconds."""
    return int(datetime.fromisoformat(text).timestamp() * 1_000_000)


def iso(instant_us: int, zone: ZoneInfo = UTC_ZONE) -> str:
    return datetime.fromtimestamp(instant_us / 1_000_000, UTC).astimezone(zone).isoformat()


@pytest.mark.parametrize(
    ("window", "zone", "due", "released"),
    [
        # outside the window: unchanged, including at its end (the end is not quiet)
        (NIGHT, TALLINN, "2026-01-15T12:00:00+02:00", "2026-01-15T12:00:00+02:00"),
        (NIGHT, TALLINN, "2026-01-15T08:00:00+02:00", "2026-01-15T08:00:00+02:00"),
        (NIGHT, TALLINN, "2026-01-15T20:59:59+02:00", "2026-01-15T20:59:59+02:00"),
        # inside: held to the end, tomorrow morning from the evening part, today from the night
        (NIGHT, TALLINN, "2026-01-15T21:00:00+02:00", "2026-01-16T08:00:00+02:00"),
        (NIGHT, TALLINN, "2026-01-15T23:30:00+02:00", "2026-01-16T08:00:00+02:00"),
        (NIGHT, TALLINN, "2026-01-16T07:59:59+02:00", "2026-01-16T08:00:00+02:00"),
        # Tallinn springs forward on 2026-03-29 (03:00 EET -> 04:00 EEST): 08:00 is at +03:00
        (NIGHT, TALLINN, "2026-03-28T23:00:00+02:00", "2026-03-29T08:00:00+03:00"),
        # ... and falls back on 2026-10-25 (04:00 EEST -> 03:00 EET): 08:00 is at +02:00
        (NIGHT, TALLINN, "2026-10-24T23:00:00+03:00", "2026-10-25T08:00:00+02:00"),
        # New York springs forward on 2026-03-08 and falls back on 2026-11-01
        (NIGHT, NEW_YORK, "2026-03-07T22:00:00-05:00", "2026-03-08T08:00:00-04:00"),
        (NIGHT, NEW_YORK, "2026-10-31T22:00:00-04:00", "2026-11-01T08:00:00-05:00"),
        # an end inside the spring-forward gap (02:30 never happens): released at the jump
        (
            QuietHours.parse("01:00-02:30"),
            NEW_YORK,
            "2026-03-08T01:30:00-05:00",
            "2026-03-08T03:00:00-04:00",
        ),
        # an end in the repeated hour: the first 01:30
        (
            QuietHours.parse("00:00-01:30"),
            NEW_YORK,
            "2026-11-01T00:30:00-04:00",
            "2026-11-01T01:30:00-04:00",
        ),
        # a window inside one day
        (
            QuietHours.parse("12:00-14:00"),
            TALLINN,
            "2026-05-04T13:00:00+03:00",
            "2026-05-04T14:00:00+03:00",
        ),
        (
            QuietHours.parse("12:00-14:00"),
            TALLINN,
            "2026-05-04T23:00:00+03:00",
            "2026-05-04T23:00:00+03:00",
        ),
    ],
)
def test_release_in_one_zone(window: QuietHours, zone: ZoneInfo, due: str, released: str) -> None:
    assert (
        iso(window.release_us(us(due), zone), zone)
        == datetime.fromisoformat(released).astimezone(zone).isoformat()
    )


def test_a_number_in_several_zones_waits_for_the_window_that_ends_last() -> None:
    """+61 spans Australia's zones and Christmas (+07:00) and Cocos (+06:30) Islands: at 00:00
    UTC it is 10:00 in Sydney (not quiet) but 06:30 on Cocos, whose 08:00 is 01:30 UTC."""
    au = "+61412345678"
    assert {z.key for z in zones_for(au)} >= {"Australia/Sydney", "Indian/Cocos"}
    assert iso(release_us(us("2026-06-15T00:00:00+00:00"), au, NIGHT)) == (
        "2026-06-15T01:30:00+00:00"
    )


def test_a_number_by_its_own_zone() -> None:
    due = us("2026-01-15T22:00:00-05:00")
    assert iso(release_us(due, "+12125551234", NIGHT), NEW_YORK) == "2026-01-16T08:00:00-05:00"


def test_a_number_without_zone_data_is_not_held() -> None:
    assert zones_for("+447700900123") == ()
    due = us("2026-01-15T23:00:00+00:00")
    assert release_us(due, "+447700900123", NIGHT) == due


def test_no_window_is_no_hold() -> None:
    due = us("2026-01-15T23:00:00+02:00")
    assert release_us(due, "+12125551234", None) == due


@pytest.mark.parametrize(
    "text",
    [
        "",
        "21:00",
        "21-08",
        "24:00-08:00",
        "21:00-08:60",
        "21:00-21:00",
        "9:00-10:00",
        5,
        " 21:00-08:00",
    ],
)
def test_windows_that_are_refused(text: object) -> None:
    with pytest.raises(QuietHoursInvalid):
        QuietHours.parse(text)  # type: ignore[arg-type]


def test_window_round_trips() -> None:
    assert str(QuietHours.parse("21:00-08:00")) == "21:00-08:00"


_ZONES = [TALLINN, NEW_YORK, ZoneInfo("Australia/Lord_Howe"), ZoneInfo("Asia/Kolkata")]
_2026 = (us("2026-01-01T00:00:00+00:00"), us("2027-01-01T00:00:00+00:00"))


@given(
    due=st.integers(*_2026),
    zone=st.sampled_from(_ZONES),
    start=st.integers(0, 24 * 60 - 1),
    length=st.integers(1, 24 * 60 - 1),
)
def test_released_at_or_after_due_and_never_inside_the_window(
    due: int, zone: ZoneInfo, start: int, length: int
) -> None:
    end = (start + length) % (24 * 60)
    window = QuietHours.parse(f"{start // 60:02d}:{start % 60:02d}-{end // 60:02d}:{end % 60:02d}")
    released = window.release_us(due, zone)
    assert released >= due
    local = datetime.fromtimestamp(released / 1_000_000, UTC).astimezone(zone)
    assert not window.contains(local.time().replace(tzinfo=None)), (iso(due), iso(released))
    if released > due:  # held only as long as needed: a second earlier is still quiet
        before = datetime.fromtimestamp((released - 1_000_000) / 1_000_000, UTC).astimezone(zone)
        assert window.contains(before.time().replace(tzinfo=None)) or before.dst() != local.dst()
