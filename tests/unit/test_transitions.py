from __future__ import annotations

import pytest

from tidings.core.transitions import state_after_report


@pytest.mark.parametrize(
    ("current", "status", "expected"),
    [
        ("sending", "ACK", "sending"),
        ("sent", "ACK", "sent"),
        ("sent", "DELIVRD", "delivered"),
        ("sending", "DELIVRD", "delivered"),  # a receipt before the connector's answer
        ("sent", "UNDELIV", "failed"),
        ("sent", "REJECTD", "failed"),
        ("sent", "NACK", "failed"),
        ("sent", "EXPIRED", "expired"),
        ("unknown", "ACK", "sent"),  # proof it left: no longer unknown
        ("delivered", "SEEN", "seen"),
        ("delivered", "ACK", None),  # never a non-final status over a final one
        ("delivered", "UNDELIV", None),
        ("failed", "DELIVRD", None),
        ("expired", "DELIVRD", "delivered"),  # late truth is recorded; the walk moved on
        ("cancelled", "DELIVRD", None),
        ("pending", "DELIVRD", None),
    ],
)
def test_state_after_report(current: str, status: str, expected: str | None) -> None:
    assert state_after_report(current, status) == expected
