"""When to retry a webhook that was not delivered.

``RETRY_SCHEDULE_S[k]`` is the delay before attempt ``k + 1``, counted from the previous attempt
(for the first attempt: from the status change). The Svix / Standard Webhooks table, with one more
attempt so that the whole span stays above 24 hours even when every delay is jittered down:

==========  =========  ===========================
attempt     delay      nominal time since event
==========  =========  ===========================
1           0          0
2           5 s        5 s
3           5 min      ~5 min
4           30 min     ~35 min
5           2 h        ~2 h 35 min
6           5 h        ~7 h 35 min
7           10 h       ~17 h 35 min
8           10 h       ~27 h 35 min
9           5 h        ~32 h 35 min
==========  =========  ===========================

Nine attempts over about 32.6 hours nominal; with +/-20 % jitter on every delay the last attempt
lands between 26.1 h and 39.1 h after the event. After attempt 9 fails, ``next_delay_s`` returns
None: give up.
"""

from __future__ import annotations

import random
from collections.abc import Sequence

__all__ = ["DEFAULT_JITTER", "MAX_ATTEMPTS", "RETRY_SCHEDULE_S", "next_delay_s"]

RETRY_SCHEDULE_S: tuple[float, ...] = (
    0.0,
    5.0,
    5 * 60.0,
    30 * 60.0,
    2 * 3600.0,
    5 * 3600.0,
    10 * 3600.0,
    10 * 3600.0,
    5 * 3600.0,
)
MAX_ATTEMPTS = len(RETRY_SCHEDULE_S)
DEFAULT_JITTER = 0.2

_rng = random.Random()


def next_delay_s(
    attempt: int,
    rng: random.Random | None = None,
    *,
    schedule: Sequence[float] = RETRY_SCHEDULE_S,
    jitter: float = DEFAULT_JITTER,
) -> float | None:
    """Seconds to wait after attempt number ``attempt`` (1-based) failed, or None to give up.

    ``next_delay_s(0)`` is the delay before the first attempt (``schedule[0]``, 0 by default);
    ``next_delay_s(n)`` is ``schedule[n]`` times a uniform factor in ``[1 - jitter, 1 + jitter]``;
    None once ``n >= len(schedule)``, so ``len(schedule)`` attempts are made in all.
    """
    if attempt < 0:
        raise ValueError("attempt must be >= 0")
    if not 0.0 <= jitter < 1.0:
        raise ValueError("jitter must be in [0, 1)")
    if attempt >= len(schedule):
        return None
    base = float(schedule[attempt])
    if base <= 0.0 or jitter == 0.0:
        return max(base, 0.0)
    r = rng if rng is not None else _rng
    return base * r.uniform(1.0 - jitter, 1.0 + jitter)
