"""The message lifecycle as a pure state machine: state + event + now -> writes.

Nothing else decides a transition. The store loads (and locks) the rows an event touches as
`Omni` and `Chan` snapshots, calls one `on_*` function per event, and flushes the `Writes` it
collected in a few statements. The functions mutate the snapshots as they decide, so several
events for the same message in one batch see each other's effect, exactly as the rows would.

Events: a due *send* timer fires (`on_fire_send`), a channel's validity deadline passes
(`on_deadline`), a connector answers (`on_answer`: accepted, rejected, retry, unknown), a delivery
report arrives (`on_report`), a lease runs out mid-send (`on_recovered`), a cancel
(`on_cancel`), and the scheduling requests on a message not yet handed over: reschedule, pause,
resume (`on_control`, `on_resume`). Every status recorded and every connector answer is also an event row of the
append-only log (`Writes.changes`, `Writes.attempts`).

A channel's validity runs from its first hand-over (`Chan.started_us`), not from each retry:
a connector that keeps saying "retry later" cannot hold a channel past its validity.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import StrEnum

from tidings.core.dispatch import Outcome, Report, SendOutcome, StatusChange
from tidings.core.model import ERR_TEXT, FINAL_FAILURE, ChannelState, OmniState

BLACKLISTED = 8  # err of a channel not sent because its account blacklists the number
# err codes that mean "never deliverable to this recipient": reported as REJECTD, not FAILED.
REJECTING_ERRS = frozenset({3, 5, 7, 8, 9})

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


class Control(StrEnum):
    """A request that acts on a message only while nothing has been handed to a provider."""

    CANCEL = "cancel"
    RESCHEDULE = "reschedule"
    PAUSE = "pause"
    RESUME = "resume"


# The omnimessage states each request may act on, and the state it leaves. The store's
# conditional updates take these lists as their `state IN (...)` (one statement decides the
# request against the dispatcher's start of the attempt), so this table is the only place they
# are decided. A paused message is still waiting: it can be cancelled or moved, not sent.
CONTROL: dict[Control, tuple[frozenset[str], str | None]] = {
    Control.CANCEL: (frozenset({OmniState.SCHEDULED, OmniState.PAUSED}), OmniState.CANCELLED),
    Control.RESCHEDULE: (frozenset({OmniState.SCHEDULED, OmniState.PAUSED}), None),  # state kept
    Control.PAUSE: (frozenset({OmniState.SCHEDULED}), OmniState.PAUSED),
    Control.RESUME: (frozenset({OmniState.PAUSED}), OmniState.SCHEDULED),
}
# The only omnimessage state a send may start from (kept for `on_cancel`'s readers).
CANCELLABLE = OmniState.SCHEDULED


class TimerState(StrEnum):
    PENDING = "pending"  # waiting for its due time (claimable)
    CLAIMED = "claimed"  # leased by a dispatcher
    PAUSED = "paused"  # its message is paused: never claimed until resumed


def allowed_from(action: Control) -> list[str]:
    """The states `action` may act on, sorted (a statement parameter)."""
    return sorted(CONTROL[action][0])


def on_control(state: str, action: Control) -> str | None:
    """The omnimessage's state after `action`, or None when the action is refused (already
    sending, or final): the API answers 404, as for a cancel."""
    states, after = CONTROL[action]
    if state not in states:
        return None
    return state if after is None else after


def timer_state_for(omni_state: str) -> TimerState:
    """The send timer's state for a waiting message: a paused one's timer never fires. Any
    lease is cleared with it, so a claim already in a dispatcher's look-ahead is fenced off
    (its start transaction finds the lease gone and does nothing)."""
    return TimerState.PAUSED if omni_state == OmniState.PAUSED else TimerState.PENDING


def on_resume(due_us: int, now_us: int, skip_missed: bool) -> str:
    """A paused message resumed: scheduled again (a due time that has passed fires at once), or,
    with `skip_missed`, cancelled when its time has passed while it was paused."""
    if skip_missed and due_us <= now_us:
        return OmniState.CANCELLED
    return OmniState.SCHEDULED


_STATE_FOR_STATUS: dict[str, ChannelState] = {
    "DELIVRD": ChannelState.DELIVERED,
    "SEEN": ChannelState.SEEN,
    "EXPIRED": ChannelState.EXPIRED,
    **{s: ChannelState.FAILED for s in FINAL_FAILURE if s != "EXPIRED"},
}


class TimerKind(StrEnum):
    """The one timer row of an omnimessage (its `ref`) is in one of two roles."""

    SEND = "send"  # start the attempt at the omnimessage's current position at `due`
    ATTEMPT = "attempt"  # an attempt is under way; due = its channel's validity deadline


@dataclass(slots=True)
class Omni:
    id: str
    account_id: int
    to: str
    state: str
    position: int
    dlr_url: str | None
    n_channels: int = 0
    # Its number is on its account's blacklist and it is not an opt-out confirmation: when its
    # send timer fires, nothing is sent (`on_fire_send`). Read in the start transaction itself.
    blacklisted: bool = False


@dataclass(slots=True)
class Chan:
    id: str
    omnimessage_id: str
    position: int
    channel: str
    sender: str
    validity_s: int
    content: str | None
    state: str
    status: str | None
    started_us: int | None = None  # first hand-over of this channel (its validity starts here)

    def deadline_us(self, now_us: int) -> int:
        start = self.started_us if self.started_us is not None else now_us
        return start + self.validity_s * 1_000_000


@dataclass(frozen=True, slots=True)
class ChanWrite:
    """A channel message's new state with its latest status (None fields clear the status)."""

    state: str
    status: str | None
    err: int | None
    error: str | None
    status_us: int | None
    parts_count: int | None = None
    part_price: str | None = None


@dataclass(frozen=True, slots=True)
class AnswerMeta:
    """What an accepting connector told us about the message."""

    connector: str
    provider_ref: str | None
    parts_count: int | None
    handed_us: int | None


@dataclass(frozen=True, slots=True)
class AttemptEvent:
    """One connector answer (or a recovery's verdict), as an event row of the log."""

    omnimessage_id: str
    message_id: str
    outcome: str
    connector: str | None
    provider_ref: str | None
    err: int | None
    error: str | None
    at_us: int


@dataclass(slots=True)
class Writes:
    """Everything decided for one batch of events, flushed together by the store."""

    now_us: int
    omnis: dict[str, tuple[str, int]] = field(default_factory=dict)  # id -> (state, position)
    chans: dict[str, ChanWrite] = field(default_factory=dict)
    chan_states: dict[str, str] = field(default_factory=dict)  # state only, status kept
    started: dict[str, int] = field(default_factory=dict)  # channel id -> started_us
    meta: dict[str, AnswerMeta] = field(default_factory=dict)
    hold: list[str] = field(default_factory=list)  # timer refs: send -> attempt, lease kept
    arm: dict[str, tuple[TimerKind, int]] = field(default_factory=dict)  # ref -> (kind, due)
    drop: set[str] = field(default_factory=set)  # timer refs to delete (wins over `arm`)
    changes: list[StatusChange] = field(default_factory=list)
    attempts: list[AttemptEvent] = field(default_factory=list)

    def armed(self) -> dict[str, tuple[TimerKind, int]]:
        return {k: v for k, v in self.arm.items() if k not in self.drop}

    def _set_chan(self, c: Chan, w: ChanWrite) -> None:
        c.state, c.status = w.state, w.status
        self.chans[c.id] = w
        self.chan_states.pop(c.id, None)

    def _set_state(self, c: Chan, state: str) -> None:
        """Change only the state, keeping the latest status, err and timestamp."""
        c.state = state
        if c.id in self.chans:
            w = self.chans[c.id]
            self.chans[c.id] = ChanWrite(
                state, w.status, w.err, w.error, w.status_us, w.parts_count, w.part_price
            )
        else:
            self.chan_states[c.id] = state

    def _record(
        self,
        o: Omni,
        c: Chan,
        status: str,
        err: int | None,
        error: str | None,
        at_us: int,
        parts_count: int | None = None,
        part_price: str | None = None,
    ) -> None:
        state = _state_for(c, status)
        self._set_chan(c, ChanWrite(state, status, err, error, at_us, parts_count, part_price))
        self.changes.append(
            StatusChange(
                o.id,
                c.id,
                o.account_id,
                o.to,
                c.channel,
                c.sender,
                status,
                err,
                error,
                at_us,
                o.dlr_url,
                parts_count,
                part_price,
            )
        )

    def _set_omni(self, o: Omni, state: str, position: int) -> None:
        o.state, o.position = state, position
        self.omnis[o.id] = (state, position)

    def _timer_done(self, ref: str) -> None:
        """The timer's work is done: delete it unless this batch re-armed it."""
        if ref not in self.arm:
            self.drop.add(ref)


def _state_for(c: Chan, status: str) -> str:
    """The channel state a recorded status implies (state_after_report has already allowed it)."""
    new = state_after_report(c.state, status)
    return new if new is not None else c.state


def state_after_report(current: str, status: str) -> str | None:
    """The channel state after a report, or None when the report must not change the state.

    A non-final status (ACK, ACCEPTD, UNKNOWN) keeps a live message as it is; nothing changes a
    final state except SEEN after DELIVRD (a read receipt that follows delivery), and the truth
    arriving for a channel we gave up on (EXPIRED, then DELIVRD or SEEN).
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


def _advance(w: Writes, o: Omni, failed: Chan) -> None:
    """After the current attempt failed: try the next channel now, or end the walk."""
    if o.state != OmniState.PROCESSING or failed.position != o.position:
        return  # an abandoned attempt, or the walk is over: never start a second walk
    if o.position + 1 < o.n_channels:
        w._set_omni(o, OmniState.PROCESSING, o.position + 1)
        w.arm[o.id] = (TimerKind.SEND, w.now_us)
    else:
        end = OmniState.EXPIRED if failed.state == ChannelState.EXPIRED else OmniState.FAILED
        w._set_omni(o, end, o.position)
        w.drop.add(o.id)


def _after_final(w: Writes, o: Omni, c: Chan) -> None:
    if c.state in (ChannelState.DELIVERED, ChannelState.SEEN):
        if o.state == OmniState.PROCESSING and c.position == o.position:
            w._set_omni(o, OmniState.DELIVERED, o.position)
            w.drop.add(o.id)
    elif c.state in (ChannelState.FAILED, ChannelState.EXPIRED):
        _advance(w, o, c)


def _expire(w: Writes, o: Omni, c: Chan) -> None:
    w._record(o, c, "EXPIRED", 2, ERR_TEXT[2], w.now_us)


# -- events ---------------------------------------------------------------------------------


def on_fire_send(w: Writes, o: Omni, c: Chan, chain: Sequence[Chan] = ()) -> bool:
    """A send timer is due: start the attempt at the current position. True when it starts
    (the caller then hands the channel message to its connector).

    The blacklist rule is decided here, the one place every send starts: a message whose
    number its account lists (`o.blacklisted`) is not sent; `c` and every still-pending
    channel of `chain` (the message's channels) end `REJECTD` with err 8, no fallback, and the
    omnimessage fails. A number listed after scheduling, or between two channels of a
    fallback, is caught the same way, since each channel starts here."""
    if o.state == OmniState.PAUSED:
        # Never sent, and its timer is never dropped here: the pause set the timer `paused`
        # and cleared its lease in the same transaction, so only resume re-arms it.
        return False
    if o.state not in (OmniState.SCHEDULED, OmniState.PROCESSING):
        w.drop.add(o.id)  # cancelled, or the walk ended meanwhile
        return False
    if c.state != ChannelState.PENDING:
        # Already under way (a recovered claim): wait for its deadline instead.
        w.arm[o.id] = (TimerKind.ATTEMPT, c.deadline_us(w.now_us))
        return False
    if o.blacklisted:
        _reject_blacklisted(w, o, c, chain)
        return False
    w._set_omni(o, OmniState.PROCESSING, o.position)
    w._set_chan(c, ChanWrite(ChannelState.SENDING, None, None, None, None))
    if c.started_us is None:
        c.started_us = w.now_us
        w.started[c.id] = w.now_us
    w.hold.append(o.id)
    return True


def _reject_blacklisted(w: Writes, o: Omni, c: Chan, chain: Sequence[Chan]) -> None:
    rest = sorted(
        (x for x in chain if x.id != c.id and x.position > c.position), key=lambda x: x.position
    )
    for x in (c, *rest):
        if x.state == ChannelState.PENDING:
            # REJECTD is final: pending -> failed (state_after_report does not apply here,
            # since nothing was ever handed over).
            w._set_chan(
                x, ChanWrite(ChannelState.FAILED, "REJECTD", BLACKLISTED, ERR_TEXT[8], w.now_us)
            )
            w.changes.append(_change(o, x, "REJECTD", BLACKLISTED, ERR_TEXT[8], w.now_us))
    w._set_omni(o, OmniState.FAILED, o.position)
    w.drop.add(o.id)


def on_deadline(w: Writes, o: Omni, c: Chan) -> None:
    """The attempt's validity ran out with no final report: expire it and move on."""
    if c.state in (ChannelState.SENT, ChannelState.SENDING, ChannelState.UNKNOWN):
        _expire(w, o, c)
    if o.state == OmniState.PROCESSING and c.state in (
        ChannelState.EXPIRED,
        ChannelState.FAILED,
        ChannelState.DELIVERED,
        ChannelState.SEEN,
    ):
        _after_final(w, o, c)
    w._timer_done(o.id)


def on_answer(w: Writes, o: Omni, c: Chan, out: SendOutcome, lease_held: bool) -> bool:
    """A connector answered for an attempt. Returns True when the answer came for an attempt
    this process no longer owns (a lost lease) while the channel was still live.

    Without the lease only facts are recorded (the provider reference, the attempt event):
    a final report already ended the attempt, or a recovery took the timer over."""
    at = out.handed_us or w.now_us
    w.attempts.append(
        AttemptEvent(
            o.id, c.id, out.outcome, out.connector, out.provider_ref, out.err, out.error, at
        )
    )
    if out.outcome == Outcome.ACCEPTED:
        w.meta[c.id] = AnswerMeta(out.connector, out.provider_ref, out.parts_count, out.handed_us)
    elif out.outcome == Outcome.UNKNOWN:
        # Which connector may have it: its callbacks can still name the message by our id.
        w.meta[c.id] = AnswerMeta(out.connector, None, out.parts_count, None)
    if not lease_held:
        return c.state not in FINAL_CHANNEL_STATES
    deadline = c.deadline_us(w.now_us)
    if out.outcome == Outcome.ACCEPTED:
        if c.state in (ChannelState.SENDING, ChannelState.UNKNOWN):
            if out.status is not None and c.status is None:
                w._set_chan(c, ChanWrite(ChannelState.SENT, out.status, 0, None, at))
                w.changes.append(_change(o, c, out.status, 0, None, at))
            else:
                w._set_state(c, ChannelState.SENT)
        if c.state == ChannelState.SENT:
            w.arm[o.id] = (TimerKind.ATTEMPT, deadline)
        else:  # a final report overtook the connector's answer
            _after_final(w, o, c)
            w._timer_done(o.id)
    elif out.outcome == Outcome.RETRY:
        retry_at = out.retry_at_us if out.retry_at_us is not None else w.now_us
        if retry_at >= deadline:
            # The next try would fall past the channel's validity: it cannot deliver in time.
            _expire(w, o, c)
            _advance(w, o, c)
            w._timer_done(o.id)
        else:
            w._set_chan(c, ChanWrite(ChannelState.PENDING, None, None, None, None))
            w.arm[o.id] = (TimerKind.SEND, retry_at)
    elif out.outcome == Outcome.UNKNOWN:
        w._set_state(c, ChannelState.UNKNOWN)
        w.arm[o.id] = (TimerKind.ATTEMPT, deadline)
    else:
        err = out.err if out.err is not None else 1
        status = "REJECTD" if err in REJECTING_ERRS else "FAILED"
        w._record(o, c, status, err, out.error or ERR_TEXT.get(err), w.now_us)
        _advance(w, o, c)
        w._timer_done(o.id)
    return False


def on_report(w: Writes, o: Omni, c: Chan, rep: Report) -> None:
    """A delivery report. Duplicates and stale ones change nothing."""
    if rep.status == c.status:
        return  # the same status twice: one report only
    if state_after_report(c.state, rep.status) is None:
        return
    w._record(o, c, rep.status, rep.err, rep.error, rep.at_us, rep.parts_count, rep.part_price)
    _after_final(w, o, c)


def on_recovered(w: Writes, o: Omni, c: Chan) -> None:
    """Its process's lease ran out: an attempt caught mid-send may or may not have left.
    Mark it unknown (never resend blindly); the new owner asks the connector."""
    if c.state == ChannelState.SENDING:
        w._set_state(c, ChannelState.UNKNOWN)


def on_cancel(w: Writes, o: Omni, chans: list[Chan]) -> bool:
    """A cancel: allowed only while scheduled (nothing handed to a provider yet). Every
    channel ends `DELETED`. False when the message is not cancellable."""
    if on_control(o.state, Control.CANCEL) is None:
        return False
    w._set_omni(o, OmniState.CANCELLED, o.position)
    for c in chans:
        w._set_chan(c, ChanWrite(ChannelState.CANCELLED, "DELETED", None, None, w.now_us))
        w.changes.append(_change(o, c, "DELETED", None, None, w.now_us))
    w.drop.add(o.id)
    return True


def _change(
    o: Omni, c: Chan, status: str, err: int | None, error: str | None, at_us: int
) -> StatusChange:
    return StatusChange(
        o.id, c.id, o.account_id, o.to, c.channel, c.sender, status, err, error, at_us, o.dlr_url
    )
