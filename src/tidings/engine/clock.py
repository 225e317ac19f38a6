"""The engine's clock: monotonic for waiting, anchored to the database's clock for timestamps.

Waiting uses the event loop's monotonic time, so a jump of the wall clock never makes the
scheduler fire early or sleep too long; `now_us()` is re-anchored to the store's clock
periodically, which on PostgreSQL makes every process compare against the same clock.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable


class Clock:
    def __init__(self, reference_us: Callable[[], Awaitable[int]] | None = None) -> None:
        self._reference = reference_us
        self._offset_us = time.time_ns() // 1000 - time.monotonic_ns() // 1000

    def now_us(self) -> int:
        return time.monotonic_ns() // 1000 + self._offset_us

    def monotonic_for(self, at_us: int) -> float:
        """The `time.monotonic()` instant at which UTC `at_us` is reached."""
        return (at_us - self._offset_us) / 1_000_000

    async def calibrate(self) -> None:
        if self._reference is None:
            return
        before = time.monotonic_ns() // 1000
        ref = await self._reference()
        after = time.monotonic_ns() // 1000
        self._offset_us = ref - (before + after) // 2
