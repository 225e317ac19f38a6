"""Which delivery-report status moves a channel message to which state (pure rules)."""

from __future__ import annotations

from tidings.core.model import FINAL_FAILURE, ChannelState

FINAL_CHANNEL_STATES = frozenset(
    {
        ChannelState.DELIVERED,
        ChannelState.SEEN,
        ChannelState.FAILED,
        ChannelState.EXPIRED,
        ChannelState.CANCELLED,
    }
)
# States in which a channel message can still receive reports.
LIVE_CHANNEL_STATES = frozenset({ChannelState.SENDING, ChannelState.SENT, ChannelState.UNKNOWN})

_STATE_FOR_STATUS: dict[str, ChannelState] = {
    "DELIVRD": ChannelState.DELIVERED,
    "SEEN": ChannelState.SEEN,
    "EXPIRED": ChannelState.EXPIRED,
    **{s: ChannelState.FAILED for s in FINAL_FAILURE if s != "EXPIRED"},
}


def state_after_report(current: str, status: str) -> str | None:
    """The channel state after a report, or None when the report must not change the state.

    A non-final status (ACK, ACCEPTD, UNKNOWN) keeps a live message as it is; nothing changes a
    final state except SEEN after DELIVRD (a read receipt that follows delivery).
    """
    if current == ChannelState.DELIVERED and status == "SEEN":
        return ChannelState.SEEN
    if current == ChannelState.EXPIRED and status in ("DELIVRD", "SEEN"):
        # Delivered after we gave up on it: record the truth; the walk has moved on regardless.
        return _STATE_FOR_STATUS[status]
    if current not in LIVE_CHANNEL_STATES:
        return None
    target = _STATE_FOR_STATUS.get(status)
    if target is None:
        return ChannelState.SENT if current == ChannelState.UNKNOWN else current
    return target


def status_is_recordable(current: str, status: str) -> bool:
    """Whether a report's status should be recorded as the channel's latest status."""
    return state_after_report(current, status) is not None


def ends_walk_successfully(state: str) -> bool:
    return state in (ChannelState.DELIVERED, ChannelState.SEEN)


def ends_attempt_in_failure(state: str) -> bool:
    return state in (ChannelState.FAILED, ChannelState.EXPIRED)
