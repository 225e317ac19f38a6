"""The sender rule (DESIGN.md section 2), shared by request validation and the CLI."""

from __future__ import annotations

import re

SENDER_ALNUM_MAX = 11
SENDER_DIGITS_MAX = 15

_SENDER_ALNUM = re.compile(rf"(?=.*[A-Za-z])[A-Za-z0-9 ]{{1,{SENDER_ALNUM_MAX}}}", re.ASCII)
_SENDER_DIGITS = re.compile(rf"\+?[0-9]{{1,{SENDER_DIGITS_MAX}}}", re.ASCII)

SENDER_RULE = (
    f"sender must be a name of 1-{SENDER_ALNUM_MAX} letters, digits and spaces with at "
    f"least one letter, or a number of up to {SENDER_DIGITS_MAX} digits with an optional '+'"
)


def sender_problem(sender: str) -> str | None:
    """None when `sender` is a valid sender ID, else what is wrong with it."""
    if _SENDER_ALNUM.fullmatch(sender) or _SENDER_DIGITS.fullmatch(sender):
        return None
    return SENDER_RULE
