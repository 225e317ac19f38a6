"""Quiet hours: a daily window of the recipient's local time in which nothing is sent.

A message due inside the window is held to the window's end, in the recipient's time zone (from
phonenumbers' time-zone data for the number). A number that spans several zones (a US toll-free
number, a Russian mobile) is held until the window has ended in every one of them: the zone
whose window ends last decides. A number without zone data is not held: there is no local time
to respect, and guessing one would delay messages for no reason.

All instants are UTC microseconds; local wall times go through zoneinfo, so DST changes are
right: a window end that does not exist that day (inside a spring-forward gap) ends the window
when the clock jumps past it; one that happens twice (fall-back) ends it at the first.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import phonenumbers
from phonenumbers import timezone as phone_timezone

QUIET_HOURS_PATTERN = r"^([01]\d|2[0-3]):[0-5]\d-([01]\d|2[0-3]):[0-5]\d$"
_WINDOW = re.compile(r"([01]\d|2[0-3]):([0-5]\d)-([01]\d|2[0-3]):([0-5]\d)")
_US = 1_000_000


class QuietHoursInvalid(ValueError):
    """A window that is not `HH:MM-HH:MM` with two different times."""


@dataclass(frozen=True, slots=True)
class QuietHours:
    start: time
    end: time

    @classmethod
    def parse(cls, text: str) -> QuietHours:
        """`21:00-08:00` (wraps past midnight) or `12:00-14:00`; 24-hour local times."""
        m = _WINDOW.fullmatch(text) if isinstance(text, str) else None
        if m is None:
            raise QuietHoursInvalid("must be a local time window HH:MM-HH:MM, e.g. 21:00-08:00")
        start = time(int(m[1]), int(m[2]))
        end = time(int(m[3]), int(m[4]))
        if start == end:
            raise QuietHoursInvalid("must start and end at different times")
        return cls(start, end)

    def __str__(self) -> str:
        return f"{self.start:%H:%M}-{self.end:%H:%M}"

    def contains(self, wall: time) -> bool:
        if self.start < self.end:
            return self.start <= wall < self.end
        return wall >= self.start or wall < self.end

    def release_us(self, due_us: int, zone: ZoneInfo) -> int:
        """When a message due at `due_us` may go, for a recipient in `zone`: `due_us` itself
        outside the window, else the window's end."""
        local = datetime.fromtimestamp(due_us / _US, UTC).astimezone(zone)
        wall = local.time().replace(tzinfo=None)
        if not self.contains(wall):
            return due_us
        day = local.date()
        if self.start > self.end and wall >= self.start:
            day += timedelta(days=1)  # evening part of a window that ends tomorrow morning
        return max(due_us, _first_instant_at(day, self.end, zone))


def _first_instant_at(day: date, wall: time, zone: ZoneInfo) -> int:
    """The first instant at which the local clock of `zone` reads `wall` (or later) on `day`."""
    first = datetime.combine(day, wall, zone)  # fold=0: the first of two, or before a gap
    instant = int(first.timestamp() * _US)
    if _wall_at(instant, zone) == (day, wall):
        return instant
    # `wall` falls in a gap (the clock jumps past it): the window ends at the jump, the first
    # instant whose local time is past `wall`. Search between an hour-plus before and after.
    lo, hi = instant - 3 * 3600 * _US, instant + 3 * 3600 * _US
    target = (day, wall)
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if _wall_at(mid, zone) >= target:
            hi = mid
        else:
            lo = mid
    return hi


def _wall_at(instant_us: int, zone: ZoneInfo) -> tuple[date, time]:
    local = datetime.fromtimestamp(instant_us / _US, UTC).astimezone(zone)
    return local.date(), local.time().replace(tzinfo=None, microsecond=0)


@lru_cache(maxsize=4096)
def zones_for(msisdn: str) -> tuple[ZoneInfo, ...]:
    """The time zones phonenumbers knows for an E.164 number (none when it knows none)."""
    try:
        names = phone_timezone.time_zones_for_number(phonenumbers.parse(msisdn))
    except phonenumbers.NumberParseException:
        return ()
    zones: list[ZoneInfo] = []
    for name in names:
        if name == phone_timezone.UNKNOWN_TIMEZONE:
            continue
        try:
            zones.append(ZoneInfo(name))
        except ZoneInfoNotFoundError:
            continue
    return tuple(zones)


def release_us(due_us: int, msisdn: str, window: QuietHours | None) -> int:
    """When a message to `msisdn` due at `due_us` may be sent under `window`: the latest
    window end among the number's zones, or `due_us` when no zone holds it."""
    if window is None:
        return due_us
    return max((window.release_us(due_us, z) for z in zones_for(msisdn)), default=due_us)


# How a message's own `quiet_hours` is stored (omnimessages.quiet_hours): None when the request
# named none (the account's window applies), OWN_NONE when it was `null` (no window at all).
OWN_NONE = ""


def own_window(given: bool, text: str | None) -> str | None:
    """The stored form of a request's own `quiet_hours` field (see OWN_NONE)."""
    if not given:
        return None
    return text or OWN_NONE


def window_for(own: str | None, account: str | None) -> QuietHours | None:
    """The window a message keeps: its own as sent (OWN_NONE: none), else the account's."""
    text = account if own is None else own
    return QuietHours.parse(text) if text else None


def hold(due_us: int, msisdn: str, window: QuietHours | None) -> tuple[int, str | None]:
    """The effective due time of a message due at `due_us`, and its `moved_by`
    ("quiet_hours" when the window held it, else None)."""
    held_us = release_us(due_us, msisdn, window)
    return held_us, ("quiet_hours" if held_us > due_us else None)
