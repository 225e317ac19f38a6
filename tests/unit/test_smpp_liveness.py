"""The liveness bookkeeping of an SMPP link (pure: instants are given)."""

from __future__ import annotations

from tidings.channels.smpp.liveness import Liveness

R = 0.3


def test_fresh_after_bind_then_stale_after_the_timeout() -> None:
    live = Liveness(R, now=10.0)
    assert live.fresh(10.29) and not live.fresh(10.3)
    assert live.dead_at() is None and not live.dead(99.0)  # nothing asked, nothing overdue
    assert not live.proven


def test_an_unanswered_probe_holds_submits_and_kills_the_link_after_the_timeout() -> None:
    live = Liveness(R, now=10.0)
    live.wrote(10.1, probe=True)
    assert live.probing and not live.fresh(10.1)
    assert live.dead_at() == 10.1 + R
    assert not live.dead(10.1 + R - 0.001) and live.dead(10.1 + R)


def test_any_pdu_heard_answers_every_earlier_request() -> None:
    live = Liveness(R, now=10.0)
    live.wrote(10.1, probe=False)
    live.wrote(10.2, probe=True)
    live.heard(10.25)  # e.g. a deliver_sm, not the probe's own answer
    assert live.proven and live.fresh(10.25) and live.dead_at() is None


def test_silence_is_counted_from_the_first_request_after_the_last_pdu_heard() -> None:
    live = Liveness(R, now=10.0)
    live.wrote(10.1, probe=False)  # a submit whose answer is lost...
    live.heard(10.2)  # ...while the peer goes on answering
    live.wrote(10.3, probe=False)
    live.wrote(10.5, probe=False)
    assert live.dead_at() == 10.3 + R  # not 10.1: the peer spoke after that one
    assert live.fresh(10.3)  # submits go on: no probe is out and it was heard within R
