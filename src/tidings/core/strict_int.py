"""Whole numbers from outside (query parameters, headers, cursors): ASCII digits only, bounded.

`str.isdigit()` also accepts `²` or `٣`, which `int()` then refuses or reads as a digit, and
`int()` accepts `_`, spaces and signs; a number longer than any bound costs time to convert
and can overflow a 64-bit column. One strict reader answers None for all of those instead.
"""

from __future__ import annotations

INT64_MIN = -(2**63)
INT64_MAX = 2**63 - 1

_MAX_DIGITS = 19  # enough for any 64-bit value; longer strings are refused unread


def parse_int(raw: str | None, lo: int = INT64_MIN, hi: int = INT64_MAX) -> int | None:
    """`raw` as an int when it is an optional `-` and 1 to 19 ASCII digits with `lo <= n <= hi`;
    otherwise None."""
    if raw is None:
        return None
    digits = raw[1:] if raw.startswith("-") else raw
    if not (0 < len(digits) <= _MAX_DIGITS and digits.isascii() and digits.isdigit()):
        return None
    value = int(raw)
    return value if lo <= value <= hi else None
