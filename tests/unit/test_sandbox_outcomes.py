from __future__ import annotations

import pytest

from tidings.channels.sandbox_outcomes import SandboxOutcome, outcome_for


@pytest.mark.parametrize(
    ("to", "position", "expected"),
    [
        ("+37251234567", 0, SandboxOutcome.DELIVERED),
        ("+447700900250", 0, SandboxOutcome.UNDELIVERED),
        ("+447700900250", 1, SandboxOutcome.SILENT),
        ("+447700900250", 2, SandboxOutcome.DELIVERED),
        ("+447700900253", 4, SandboxOutcome.REJECTED),  # the last digit covers later channels
        ("+447700900999", 0, SandboxOutcome.DELIVERED),  # 9 is no outcome: delivered
        ("+447700901250", 0, SandboxOutcome.DELIVERED),  # outside the drama range
        ("+4477009002500", 0, SandboxOutcome.DELIVERED),  # too long to be a script
    ],
)
def test_outcome_for(to: str, position: int, expected: SandboxOutcome) -> None:
    assert outcome_for(to, position) == expected


def test_every_digit_but_nine_is_an_outcome() -> None:
    assert [outcome_for(f"+447700900{d}00", 0).value for d in range(9)] == list(range(9))
