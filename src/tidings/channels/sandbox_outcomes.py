"""Magic numbers: which outcome the sandbox plays for each channel of a message.

Numbers in Ofcom's range reserved for drama, `+44 7700 900 ABC`, are scripts: digit A is the
outcome of the first channel tried, B of the second, C of the third (and of any later ones).
Every other number is delivered.
"""

from __future__ import annotations

from enum import IntEnum

MAGIC_PREFIX = "+447700900"


class SandboxOutcome(IntEnum):
    DELIVERED = 0  # ACK, then DELIVRD
    SEEN = 1  # ACK, DELIVRD, then SEEN (channels with read receipts; SMS: delivered only)
    UNDELIVERED = 2  # ACK, then UNDELIV (err 1)
    REJECTED = 3  # refused at submit, for good: REJECTD (err 9, unroutable)
    TEMPORARY = 4  # refused at submit for now; accepted and delivered on the retry
    SILENT = 5  # accepted, then never a report: the validity runs out
    SLOW = 6  # ACK, then DELIVRD after the slow delay (default 3 s)
    INVALID_NUMBER = 7  # ACK, then FAILED (err 3, invalid number)
    EXPIRED = 8  # ACK, then EXPIRED (err 2) reported by the "operator"


READ_RECEIPT_CHANNELS = frozenset({"whatsapp", "viber", "rcs", "telegram"})


def outcome_for(to: str, position: int) -> SandboxOutcome:
    """The outcome the sandbox plays for the channel at `position` (0-based) of a message to `to`."""
    if not to.startswith(MAGIC_PREFIX) or len(to) != len(MAGIC_PREFIX) + 3:
        return SandboxOutcome.DELIVERED
    digit = int(to[len(MAGIC_PREFIX) + min(position, 2)])
    return (
        SandboxOutcome(digit)
        if digit in SandboxOutcome._value2member_map_
        else SandboxOutcome.DELIVERED
    )
