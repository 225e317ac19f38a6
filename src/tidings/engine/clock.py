"""The engine's clock: one object, made once at start-up and passed down, for telling the time
and for waiting.

`SystemClock` waits on the event loop's monotonic time, so a jump of the wall clock never makes
the scheduler fire early or sleep too long; `now_us()` is re-anchored to the store's clock
periodically, which on PostgreSQL makes every process compare against the same clock.

`FakeClock` is the test double, shipped with the code (as httpx ships `MockTransport`): time
moves only when a test calls `advance()`, and every sleep and timed wait of the engine wakes
exactly when the fake time reaches its deadline. Scheduling tests run on it instead of sleeping.
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import itertools
import time
from collections.abc import Awaitable, Callable
from typing import Protocol


class Clock(Protocol):
    def now_us(self) -> int:
        """UTC microseconds since the epoch (anchored to the reference clock)."""
        ...

    def monotonic(self) -> float:
        """Seconds on a clock that never jumps; only differences mean anything."""
        ...

    def monotonic_for(self, at_us: int) -> float:
        """The `monotonic()` instant at which UTC `at_us` is reached."""
        ...

    async def sleep(self, seconds: float) -> None: ...

    async def wait(self, event: asyncio.Event, within_s: float) -> bool:
        """Wait for `event` at most `within_s` seconds; True when it was set."""
        ...

    async def calibrate(self) -> None:
        """Re-anchor `now_us()` to the reference clock (no-op without one)."""
        ...


class SystemClock:
    def __init__(self, reference_us: Callable[[], Awaitable[int]] | None = None) -> None:
        self._reference = reference_us
        self._offset_us = time.time_ns() // 1000 - time.monotonic_ns() // 1000

    def now_us(self) -> int:
        return time.monotonic_ns() // 1000 + self._offset_us

    def monotonic(self) -> float:
        return time.monotonic()

    def monotonic_for(self, at_us: int) -> float:
        return (at_us - self._offset_us) / 1_000_000

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(max(seconds, 0.0))

    async def wait(self, event: asyncio.Event, within_s: float) -> bool:
        if event.is_set():
            return True
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(event.wait(), max(within_s, 0.0))
            return True
        return False

    async def calibrate(self) -> None:
        if self._reference is None:
            return
        before = time.monotonic_ns() // 1000
        ref = await self._reference()
        after = time.monotonic_ns() // 1000
        self._offset_us = ref - (before + after) // 2


class FakeClock:
    """Time that moves only with `advance()`. Starts at `start_us` (UTC microseconds)."""

    def __init__(self, start_us: int) -> None:
        self._now_us = start_us
        self._sleepers: list[tuple[int, int, asyncio.Future[None]]] = []
        self._seq = itertools.count()

    def now_us(self) -> int:
        return self._now_us

    def monotonic(self) -> float:
        return self._now_us / 1_000_000

    def monotonic_for(self, at_us: int) -> float:
        return at_us / 1_000_000

    def sleepers(self) -> int:
        """How many sleeps and timed waits are pending (to wait until the engine is idle)."""
        return sum(1 for _, _, f in self._sleepers if not f.done())

    async def sleep(self, seconds: float) -> None:
        if seconds <= 0:
            await asyncio.sleep(0)
            return
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        wake_us = self._now_us + max(1, round(seconds * 1_000_000))
        heapq.heappush(self._sleepers, (wake_us, next(self._seq), fut))
        await fut

    async def wait(self, event: asyncio.Event, within_s: float) -> bool:
        if event.is_set():
            return True
        waiter = asyncio.ensure_future(event.wait())
        sleeper = asyncio.ensure_future(self.sleep(within_s))
        try:
            await asyncio.wait({waiter, sleeper}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for t in (waiter, sleeper):
                t.cancel()
        return event.is_set()

    async def calibrate(self) -> None:
        return None

    async def advance(self, seconds: float) -> None:
        """Move time forward, waking every sleep due by then in time order (each woken sleeper
        runs before time moves past its deadline)."""
        target = self._now_us + round(seconds * 1_000_000)
        while self._sleepers and self._sleepers[0][0] <= target:
            wake_us, _, fut = heapq.heappop(self._sleepers)
            self._now_us = max(self._now_us, wake_us)
            if not fut.done():
                fut.set_result(None)
                for _ in range(5):  # let the woken task run up to its next wait
                    await asyncio.sleep(0)
        self._now_us = target
