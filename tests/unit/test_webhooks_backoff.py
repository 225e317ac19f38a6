"""The webhook retry schedule."""

from __future__ import annotations

import random

import pytest

from tidings.webhooks.backoff import (
    DEFAULT_JITTER,
    MAX_ATTEMPTS,
    RETRY_SCHEDULE_S,
    next_delay_s,
)

DAY = 24 * 3600


def test_schedule_shape() -> None:
    assert RETRY_SCHEDULE_S[:8] == (0, 5, 300, 1800, 7200, 18000, 36000, 36000)
    assert len(RETRY_SCHEDULE_S) == MAX_ATTEMPTS
    # monotone up to the 10 h plateau
    plateau = RETRY_SCHEDULE_S.index(36000)
    assert list(RETRY_SCHEDULE_S[: plateau + 1]) == sorted(RETRY_SCHEDULE_S[: plateau + 1])
    assert max(RETRY_SCHEDULE_S) == 36000


def test_first_attempt_is_immediate() -> None:
    assert next_delay_s(0) == 0.0


def test_no_jitter_returns_the_schedule() -> None:
    got = [next_delay_s(n, jitter=0.0) for n in range(MAX_ATTEMPTS)]
    assert got == [float(x) for x in RETRY_SCHEDULE_S]


def test_total_span_is_over_a_day_even_with_worst_jitter() -> None:
    assert sum(RETRY_SCHEDULE_S) * (1 - DEFAULT_JITTER) >= DAY
    assert sum(RETRY_SCHEDULE_S) <= 40 * 3600

    class Low(random.Random):
        def uniform(self, a: float, b: float) -> float:
            return a

    total = 0.0
    n = 1
    while (d := next_delay_s(n, Low())) is not None:
        total += d
        n += 1
    assert total >= DAY
    assert n == MAX_ATTEMPTS  # attempts 1..MAX_ATTEMPTS were made


def test_jitter_bounds_and_spread() -> None:
    rng = random.Random(1234)
    for n in range(1, MAX_ATTEMPTS):
        base = RETRY_SCHEDULE_S[n]
        samples = [next_delay_s(n, rng) for _ in range(300)]
        assert all(s is not None and 0.8 * base <= s <= 1.2 * base for s in samples)
        assert len(set(samples)) > 250  # actually jittered


def test_seeded_rng_is_deterministic() -> None:
    a = [next_delay_s(n, random.Random(7)) for n in range(MAX_ATTEMPTS)]
    b = [next_delay_s(n, random.Random(7)) for n in range(MAX_ATTEMPTS)]
    assert a == b


def test_none_after_the_last_attempt() -> None:
    assert next_delay_s(MAX_ATTEMPTS - 1) is not None
    assert next_delay_s(MAX_ATTEMPTS) is None
    assert next_delay_s(MAX_ATTEMPTS + 5) is None


def test_custom_schedule_for_tests() -> None:
    schedule = (0.0, 0.01, 0.02)
    rng = random.Random(0)
    d1 = next_delay_s(1, rng, schedule=schedule)
    assert d1 is not None and 0.008 <= d1 <= 0.012
    assert next_delay_s(2, rng, schedule=schedule, jitter=0.0) == 0.02
    assert next_delay_s(3, rng, schedule=schedule) is None


def test_outbox_style_loop_makes_every_attempt_once() -> None:
    # attempt n fails -> next_delay_s(n) -> attempt n + 1 ... until None
    attempts = 1
    while next_delay_s(attempts, schedule=(0, 1, 1, 1)) is not None:
        attempts += 1
    assert attempts == 4


@pytest.mark.parametrize("kwargs", [{"attempt": -1}, {"attempt": 1, "jitter": 1.0}])
def test_bad_arguments(kwargs: dict[str, float]) -> None:
    with pytest.raises(ValueError):
        next_delay_s(**kwargs)  # type: ignore[arg-type]
