from __future__ import annotations

import pytest

from tidings.core.dispatch import Outcome, Report, SendJob, SendOutcome
from tidings.core.lifecycle import (
    Chan,
    Control,
    Omni,
    TimerKind,
    TimerState,
    Writes,
    allowed_from,
    on_answer,
    on_cancel,
    on_control,
    on_deadline,
    on_fire_send,
    on_recovered,
    on_report,
    on_resume,
    state_after_report,
    timer_state_for,
)
from tidings.core.model import ChannelState, OmniState


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


# -- the state machine, event by event, state by state (no database) ------------------------

S = 1_000_000
NOW = 1_700_000_000 * S


def _omni(state: str = "processing", position: int = 0, n: int = 2) -> Omni:
    return Omni("o1", 1, "+37251234567", state, position, "https://example.test/dlr", n)


def _chan(
    state: str, status: str | None = None, position: int = 0, started: int | None = NOW - 10 * S
) -> Chan:
    return Chan("m1", "o1", position, "whatsapp", "Tidings", 60, "{}", state, status, started)


def _job() -> SendJob:
    return SendJob(1, 7, NOW, "o1", 1, "+37251234567", "m1", 0, "whatsapp", "Tidings", 60, "{}")


def _answer(outcome: Outcome, **kw: object) -> SendOutcome:
    return SendOutcome(_job(), outcome, "wa", **kw)  # type: ignore[arg-type]


ALL_CHANNEL_STATES = [s.value for s in ChannelState]


@pytest.mark.parametrize("state", ALL_CHANNEL_STATES)
def test_fire_send_starts_only_a_pending_channel(state: str) -> None:
    w, o, c = Writes(NOW), _omni("scheduled"), _chan(state, started=None)
    started = on_fire_send(w, o, c)
    if state == "pending":
        assert started and c.state == "sending" and o.state == "processing"
        assert w.hold == ["o1"] and w.started == {"m1": NOW}
    else:  # already under way (a recovered claim): wait for the attempt's deadline
        assert not started and w.hold == []
        assert w.arm == {"o1": (TimerKind.ATTEMPT, NOW + 60 * S)}


@pytest.mark.parametrize("omni_state", ["delivered", "failed", "expired", "cancelled"])
def test_fire_send_of_a_finished_or_cancelled_message_drops_the_timer(omni_state: str) -> None:
    w, o, c = Writes(NOW), _omni(omni_state), _chan("pending")
    assert not on_fire_send(w, o, c)
    assert w.drop == {"o1"} and w.changes == [] and c.state == "pending"


def test_a_retried_channel_keeps_its_first_start() -> None:
    w, o, c = Writes(NOW), _omni(), _chan("pending", started=NOW - 30 * S)
    assert on_fire_send(w, o, c)
    assert w.started == {} and c.started_us == NOW - 30 * S


@pytest.mark.parametrize(
    ("state", "expired"),
    [
        ("sending", True),
        ("sent", True),
        ("unknown", True),
        ("pending", False),
        ("delivered", False),
        ("seen", False),
        ("failed", False),
        ("expired", False),
        ("cancelled", False),
    ],
)
def test_deadline_expires_only_a_live_attempt(state: str, expired: bool) -> None:
    w, o, c = Writes(NOW), _omni(), _chan(state)
    on_deadline(w, o, c)
    statuses = [(ch.status, ch.err) for ch in w.changes]
    assert statuses == ([("EXPIRED", 2)] if expired else [])
    if expired:  # the walk moves on to the next channel, now
        assert c.state == "expired" and o.position == 1
        assert w.armed() == {"o1": (TimerKind.SEND, NOW)}


def test_deadline_on_the_last_channel_ends_the_walk_expired() -> None:
    w, o, c = Writes(NOW), _omni(n=1), _chan("sent", "ACK")
    on_deadline(w, o, c)
    assert o.state == "expired" and w.drop == {"o1"} and w.armed() == {}


def test_accepted_waits_for_the_deadline_counted_from_the_first_start() -> None:
    w, o, c = Writes(NOW), _omni(), _chan("sending")
    assert on_answer(w, o, c, _answer(Outcome.ACCEPTED, provider_ref="wamid.1"), True) is False
    assert c.state == "sent"
    assert w.arm == {"o1": (TimerKind.ATTEMPT, NOW - 10 * S + 60 * S)}
    assert [(a.outcome, a.provider_ref) for a in w.attempts] == [("accepted", "wamid.1")]


def test_accepted_with_a_status_records_it_at_the_hand_over() -> None:
    w, o, c = Writes(NOW), _omni(), _chan("sending")
    on_answer(w, o, c, _answer(Outcome.ACCEPTED, status="ACK", handed_us=NOW - 5), True)
    assert [(ch.status, ch.at_us) for ch in w.changes] == [("ACK", NOW - 5)]


def test_accepted_after_a_final_report_overtook_it_ends_the_walk() -> None:
    w, o, c = Writes(NOW), _omni(), _chan("delivered", "DELIVRD")
    on_answer(w, o, c, _answer(Outcome.ACCEPTED), True)
    assert o.state == "delivered" and w.drop == {"o1"}


def test_retry_within_validity_sends_the_same_channel_again() -> None:
    w, o, c = Writes(NOW), _omni(), _chan("sending")
    on_answer(w, o, c, _answer(Outcome.RETRY, retry_at_us=NOW + 5 * S), True)
    assert c.state == "pending" and w.arm == {"o1": (TimerKind.SEND, NOW + 5 * S)}
    assert w.changes == [] and o.position == 0


@pytest.mark.parametrize("retry_in_s", [50, 51, 3600])
def test_retry_past_validity_expires_the_channel_and_falls_back(retry_in_s: int) -> None:
    # Started 10 s ago with a 60 s validity: its deadline is in 50 s.
    w, o, c = Writes(NOW), _omni(), _chan("sending")
    on_answer(w, o, c, _answer(Outcome.RETRY, retry_at_us=NOW + retry_in_s * S), True)
    assert [(ch.status, ch.err, ch.at_us) for ch in w.changes] == [("EXPIRED", 2, NOW)]
    assert c.state == "expired" and o.position == 1
    assert w.armed() == {"o1": (TimerKind.SEND, NOW)}  # the next channel, now


def test_retry_past_validity_on_the_last_channel_ends_the_walk() -> None:
    w, o, c = Writes(NOW), _omni(n=1), _chan("sending")
    on_answer(w, o, c, _answer(Outcome.RETRY, retry_at_us=NOW + 3600 * S), True)
    assert o.state == "expired" and w.drop == {"o1"}


def test_unknown_waits_for_the_deadline_and_never_resends() -> None:
    w, o, c = Writes(NOW), _omni(), _chan("sending")
    on_answer(w, o, c, _answer(Outcome.UNKNOWN), True)
    assert c.state == "unknown" and w.arm == {"o1": (TimerKind.ATTEMPT, NOW + 50 * S)}
    assert w.changes == []


def test_an_unknown_attempt_resolved_by_a_late_callback() -> None:
    w, o, c = Writes(NOW), _omni(), _chan("unknown")
    on_report(w, o, c, Report("m1", "DELIVRD", 0, None, NOW))
    assert c.state == "delivered" and o.state == "delivered" and w.drop == {"o1"}


@pytest.mark.parametrize(
    ("err", "status"),
    [(None, "FAILED"), (1, "FAILED"), (3, "REJECTD"), (8, "REJECTD"), (999, "FAILED")],
)
def test_rejected_fails_the_channel_and_falls_back(err: int | None, status: str) -> None:
    w, o, c = Writes(NOW), _omni(), _chan("sending")
    on_answer(w, o, c, _answer(Outcome.REJECTED, err=err), True)
    assert [(ch.status, ch.err) for ch in w.changes] == [(status, err or 1)]
    assert c.state == "failed" and o.position == 1


@pytest.mark.parametrize("outcome", list(Outcome))
def test_an_answer_without_the_lease_records_facts_only(outcome: Outcome) -> None:
    w, o, c = Writes(NOW), _omni(), _chan("unknown")
    lost = on_answer(w, o, c, _answer(outcome, provider_ref="p"), False)
    assert lost is True and c.state == "unknown" and w.changes == [] and w.arm == {}
    assert [a.outcome for a in w.attempts] == [outcome.value]


def test_an_answer_without_the_lease_after_a_final_report_is_not_lost() -> None:
    w, o, c = Writes(NOW), _omni(), _chan("delivered", "DELIVRD")
    assert on_answer(w, o, c, _answer(Outcome.ACCEPTED), False) is False


@pytest.mark.parametrize("state", ALL_CHANNEL_STATES)
@pytest.mark.parametrize("status", ["ACK", "DELIVRD", "SEEN", "UNDELIV", "EXPIRED", "FAILED"])
def test_reports_in_every_state(state: str, status: str) -> None:
    w, o, c = Writes(NOW), _omni(), _chan(state)
    on_report(w, o, c, Report("m1", status, 0, None, NOW))
    expected = state_after_report(state, status)
    assert bool(w.changes) == (expected is not None)
    assert c.state == (expected or state)


def test_a_repeated_report_records_nothing() -> None:
    w, o, c = Writes(NOW), _omni(), _chan("sent", "ACK")
    on_report(w, o, c, Report("m1", "ACK", 0, None, NOW))
    assert w.changes == []


def test_seen_after_delivered_is_recorded_without_a_second_walk_end() -> None:
    w, o, c = Writes(NOW), _omni("delivered"), _chan("delivered", "DELIVRD")
    on_report(w, o, c, Report("m1", "SEEN", 10, None, NOW))
    assert c.state == "seen" and [ch.status for ch in w.changes] == ["SEEN"] and w.omnis == {}


def test_a_report_for_an_abandoned_channel_never_restarts_the_walk() -> None:
    w, o, c = Writes(NOW), _omni(position=1), _chan("expired", "EXPIRED")
    on_report(w, o, c, Report("m1", "DELIVRD", 0, None, NOW))
    assert c.state == "delivered" and o.state == "processing" and o.position == 1
    assert w.arm == {} and w.drop == set()


@pytest.mark.parametrize("state", ALL_CHANNEL_STATES)
def test_recovery_marks_only_a_sending_channel_unknown(state: str) -> None:
    w, o, c = Writes(NOW), _omni(), _chan(state)
    on_recovered(w, o, c)
    assert c.state == ("unknown" if state == "sending" else state)
    assert w.changes == []


@pytest.mark.parametrize("omni_state", [s.value for s in OmniState])
def test_cancel_only_while_waiting(omni_state: str) -> None:
    w, o = Writes(NOW), _omni(omni_state)
    chans = [_chan("pending"), Chan("m2", "o1", 1, "sms", "Tidings", 60, "{}", "pending", None)]
    ok = on_cancel(w, o, chans)
    assert ok == (omni_state in ("scheduled", "paused"))
    if ok:
        assert o.state == "cancelled" and w.drop == {"o1"}
        assert [(ch.message_id, ch.status) for ch in w.changes] == [
            ("m1", "DELETED"),
            ("m2", "DELETED"),
        ]
    else:
        assert w.changes == [] and w.omnis == {}


def test_cancel_against_start_whichever_comes_first_wins() -> None:
    # Start first: the message is processing, a cancel then finds nothing to cancel.
    w, o, c = Writes(NOW), _omni("scheduled"), _chan("pending", started=None)
    assert on_fire_send(w, o, c)
    assert not on_cancel(w, o, [c])
    # Cancel first: the send timer then finds a cancelled message and starts nothing.
    w, o, c = Writes(NOW), _omni("scheduled"), _chan("pending", started=None)
    assert on_cancel(w, o, [c])
    assert not on_fire_send(w, o, c) and c.state == "cancelled"


# -- scheduling requests: reschedule, pause, resume, cancel (issue 12) ----------------------

_WAITING = {"scheduled", "paused"}


@pytest.mark.parametrize("omni_state", [s.value for s in OmniState])
@pytest.mark.parametrize(
    ("action", "allowed", "after"),
    [
        (Control.CANCEL, _WAITING, "cancelled"),
        (Control.RESCHEDULE, _WAITING, None),  # None: the state is kept
        (Control.PAUSE, {"scheduled"}, "paused"),
        (Control.RESUME, {"paused"}, "scheduled"),
    ],
)
def test_control_table(
    omni_state: str, action: Control, allowed: set[str], after: str | None
) -> None:
    got = on_control(omni_state, action)
    if omni_state in allowed:
        assert got == (omni_state if after is None else after)
    else:
        assert got is None  # already sending or final: 404 / not counted
    assert allowed_from(action) == sorted(allowed)


@pytest.mark.parametrize(
    ("state", "timer"), [("scheduled", TimerState.PENDING), ("paused", TimerState.PAUSED)]
)
def test_a_paused_message_timer_never_fires(state: str, timer: TimerState) -> None:
    assert timer_state_for(state) == timer


@pytest.mark.parametrize(
    ("due", "skip_missed", "expected"),
    [
        (NOW - S, False, "scheduled"),  # its time passed while paused: sends at once
        (NOW - S, True, "cancelled"),
        (NOW, True, "cancelled"),  # due exactly now counts as missed
        (NOW + S, True, "scheduled"),
        (NOW + S, False, "scheduled"),
    ],
)
def test_resume(due: int, skip_missed: bool, expected: str) -> None:
    assert on_resume(due, NOW, skip_missed) == expected


def test_a_paused_message_does_not_start() -> None:
    w, o, c = Writes(NOW), _omni("paused"), _chan("pending", started=None)
    assert not on_fire_send(w, o, c)
    assert c.state == "pending" and w.changes == [] and w.drop == set() and w.arm == {}


# -- the blacklist rule (issue 13) ---------------------------------------------------------------


def _chain(*states: str) -> list[Chan]:
    return [
        Chan(f"m{i}", "o1", i, "sms", "Tidings", 60, "{}", s, None, None)
        for i, s in enumerate(states)
    ]


def test_a_blacklisted_message_rejects_its_whole_chain_and_sends_nothing() -> None:
    chain = _chain("pending", "pending", "pending")
    o = _omni("scheduled", n=3)
    o.blacklisted = True
    w = Writes(NOW)
    assert not on_fire_send(w, o, chain[0], chain)
    assert [c.state for c in chain] == ["failed"] * 3
    assert [(x.message_id, x.status, x.err, x.error) for x in w.changes] == [
        (f"m{i}", "REJECTD", 8, "Operator blacklisted") for i in range(3)
    ]
    assert w.omnis == {"o1": ("failed", 0)}
    assert w.drop == {"o1"} and w.hold == [] and w.armed() == {} and w.started == {}


def test_a_number_listed_between_two_channels_stops_the_fallback() -> None:
    """The first channel failed before the number was listed; the fallback's send timer finds
    it listed: the remaining channels are rejected, the failed one keeps its own status."""
    chain = _chain("failed", "pending", "pending")
    chain[0].status = "FAILED"
    o = _omni("processing", position=1, n=3)
    o.blacklisted = True
    w = Writes(NOW)
    assert not on_fire_send(w, o, chain[1], chain)
    assert [c.status for c in chain] == ["FAILED", "REJECTD", "REJECTD"]
    assert [x.message_id for x in w.changes] == ["m1", "m2"]
    assert w.omnis == {"o1": ("failed", 1)} and w.drop == {"o1"}


@pytest.mark.parametrize("omni_state", ["paused", "cancelled", "delivered"])
def test_the_blacklist_rule_acts_only_on_a_message_about_to_send(omni_state: str) -> None:
    chain = _chain("pending", "pending")
    o = _omni(omni_state)
    o.blacklisted = True
    w = Writes(NOW)
    assert not on_fire_send(w, o, chain[0], chain)
    assert w.changes == [] and [c.state for c in chain] == ["pending", "pending"]
