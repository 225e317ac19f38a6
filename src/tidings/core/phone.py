"""Recipient numbers: strict international format, normalised to E.164."""

from __future__ import annotations

import functools
import re

import phonenumbers

__all__ = ["SHAPE", "normalise_msisdn"]

MAX_DIGITS = 15  # E.164
SHAPE = re.compile(r"\+?[0-9]+", re.ASCII)  # the form checked before libphonenumber is asked
_EXAMPLE = "+37251234567"


def normalise_msisdn(value: str) -> str:
    """Return `value` as E.164 with a leading '+', or raise ValueError saying what is wrong.

    Strict on purpose: the value must be '+' followed by digits, or digits alone (read as
    international, i.e. starting with the country code). Spaces, dashes, dots, brackets, a
    national trunk prefix ('0...') or an international prefix ('00...') are all rejected rather
    than guessed at. The country code must be one that libphonenumber knows, and the number must
    have a possible length for it (a number diallable only locally is not enough).
    """
    if not isinstance(value, str):
        raise ValueError("the phone number must be a string")
    return _normalised(value)


# libphonenumber's parse and length check take ~14 us a number; senders write to the same
# recipients again and again (a campaign, a reminder series). A valid number's answer never
# changes, so it is kept (16 384 numbers, ~2 MB); a refused one is not (lru_cache keeps no
# exception) and is checked again each time.
@functools.lru_cache(maxsize=16384)
def _normalised(value: str) -> str:
    if not SHAPE.fullmatch(value):
        raise ValueError(
            f"the phone number must be in international format, '+' and digits only "
            f"(no spaces or punctuation), e.g. {_EXAMPLE}"
        )
    digits = value.removeprefix("+")
    if len(digits) > MAX_DIGITS:
        raise ValueError(f"the phone number is too long: at most {MAX_DIGITS} digits (E.164)")
    if digits.startswith("0"):
        raise ValueError(
            f"the phone number must start with the country code, not 0 or 00, e.g. {_EXAMPLE}"
        )
    try:
        number = phonenumbers.parse("+" + digits, None)
    except phonenumbers.NumberParseException:
        raise ValueError(f"+{digits} does not start with a known country code") from None
    reason = phonenumbers.is_possible_number_with_reason(number)
    if reason != phonenumbers.ValidationResult.IS_POSSIBLE:
        why = {
            phonenumbers.ValidationResult.TOO_SHORT: "too short",
            phonenumbers.ValidationResult.TOO_LONG: "too long",
            phonenumbers.ValidationResult.IS_POSSIBLE_LOCAL_ONLY: "diallable only locally",
            phonenumbers.ValidationResult.INVALID_COUNTRY_CODE: "for an unknown country code",
        }.get(reason, "of an impossible length")
        raise ValueError(
            f"+{digits} is not a possible phone number for country code "
            f"+{number.country_code} ({why})"
        )
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
