"""Waiting on conditions, not on the clock: the tests' one way to wait for something to happen.

A test that sleeps a fixed time is either slow (the margin) or flaky (a loaded CI machine needs
more than the margin). These poll a condition until it holds, with a generous deadline that
costs nothing when things go well. The only sleep in them is the poll interval.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

T = TypeVar("T")

INTERVAL_S = 0.02


def wait_until(
    check: Callable[[], T], what: str, within: float = 15.0, interval: float = INTERVAL_S
) -> T:
    """The first truthy value `check()` returns; `AssertionError` naming `what` if none does
    in `within` seconds."""
    deadline = time.monotonic() + within
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {within} s waiting for {what} (last: {value!r})")
        time.sleep(interval)


def settle(check: Callable[[], T], within: float, interval: float = INTERVAL_S) -> T:
    """`check()` once it is truthy, or its last value after `within` seconds (for a caller that
    asserts on whatever arrived, including nothing)."""
    deadline = time.monotonic() + within
    while not (value := check()) and time.monotonic() < deadline:
        time.sleep(interval)
    return value


async def wait_until_async(
    check: Callable[[], Awaitable[T]],
    what: str,
    within: float = 15.0,
    interval: float = INTERVAL_S,
) -> T:
    """`wait_until` for a coroutine condition, on the running event loop."""
    deadline = time.monotonic() + within
    while True:
        value = await check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {within} s waiting for {what} (last: {value!r})")
        await asyncio.sleep(interval)


def async_value(check: Callable[[], T]) -> Callable[[], Awaitable[T]]:
    """A plain condition (on attributes the event loop updates) as a coroutine condition."""

    async def value() -> T:
        return check()

    return value
