"""`LinkKeeper`: keeps one SMPP bind alive and hands sends a link only while it answers.

- bind, and re-bind when the link ends: at once after losing a link that had answered since
  its bind, else after a back-off of 0.2 s doubling to `reconnect_max_s` (an SMSC that binds
  and then drops or ignores us is not hammered);
- a watchdog per link: an `enquire_link` every `enquire_link_s` (and when a send finds the link
  stale); a link whose peer has answered nothing for `response_timeout_s` after a request
  (probe or submit_sm) is dead (`liveness.py`): aborted, no unbind, and re-bound;
- `usable_link()`, the gate of every submit_sm: the link once it is fresh (heard from within
  `response_timeout_s`, no probe unanswered), or None when no such link comes in time, so the
  message never left (RETRY, not UNKNOWN).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable

from tidings.channels.smpp.link import DeliverEvent, LinkFactory, NotSent, SmppLink
from tidings.channels.smpp.liveness import Liveness
from tidings.channels.smpp.settings import SmppSettings

log = logging.getLogger("tidings.smpp")

REBIND_BACKOFF_S = 0.2  # first delay between failed binds, doubling to reconnect_max_s
BIND_WAIT_MAX_S = 5.0  # cap of how long a send waits for a bind (else response_timeout_s)


def next_delay(delay: float, cap: float) -> float:
    return REBIND_BACKOFF_S if delay <= 0 else min(delay * 2, cap)


class _Watch:
    """The `LinkListener` of one link: feeds its `Liveness`, wakes the watchdog when a request
    starts a silence, and the waiting sends when the peer is heard."""

    def __init__(self, keeper: LinkKeeper, timeout_s: float) -> None:
        self.live = Liveness(timeout_s, time.monotonic())
        self._keeper = keeper

    def heard(self) -> None:
        self.live.heard(time.monotonic())
        self._keeper._changed()

    def wrote(self, *, probe: bool) -> None:
        starts_silence = self.live.dead_at() is None
        self.live.wrote(time.monotonic(), probe=probe)
        if starts_silence:
            self._keeper._wake.set()


class LinkKeeper:
    def __init__(
        self,
        settings: SmppSettings,
        open_link: LinkFactory,
        on_deliver: Callable[[DeliverEvent], None],
    ) -> None:
        self.settings = settings
        self.name = settings.name
        self._open_link = open_link
        self._on_deliver = on_deliver
        self._link: SmppLink | None = None
        self._watch: _Watch | None = None
        self._up = asyncio.Event()
        self._wake = asyncio.Event()  # for the watchdog: a silence began, or a probe is wanted
        self._probe_wanted = False
        self._news = asyncio.Event()  # replaced on each change, for the sends that wait
        self._news_waiters = 0
        self._next_bind_at = 0.0  # monotonic instant of the next bind attempt
        self._supervisor: asyncio.Task[None] | None = None
        self._stopping = False
        self.binds = 0  # successful binds (for tests / metrics)
        self.dead_links = 0  # links given up because the peer stopped answering

    async def start(self) -> None:
        self._stopping = False
        self._supervisor = asyncio.create_task(self._supervise(), name=f"smpp-{self.name}")

    async def stop(self) -> None:
        """Stop re-binding; the current link is unbound (bounded by the response timeout)."""
        self._stopping = True
        if self._supervisor is not None:
            self._supervisor.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._supervisor
            self._supervisor = None

    async def wait_bound(self, timeout_s: float) -> bool:
        try:
            await asyncio.wait_for(self._up.wait(), timeout_s)
        except TimeoutError:
            return False
        return True

    def _changed(self) -> None:
        """Wake the sends waiting for a usable link (they look again)."""
        if self._news_waiters:
            self._news.set()
            self._news = asyncio.Event()

    async def _supervise(self) -> None:
        s = self.settings
        delay = 0.0
        while not self._stopping:
            self._next_bind_at = time.monotonic() + delay
            if delay:
                await asyncio.sleep(delay)
            watch = _Watch(self, s.response_timeout_s)
            try:
                link = await self._open_link(s, watch)
            except Exception as exc:  # BindError, OSError, or bad settings: keep trying
                log.warning("action=smpp_bind_failed connector=%s error=%s", self.name, exc)
                delay = next_delay(delay, s.reconnect_max_s)
                continue
            watch.live = Liveness(s.response_timeout_s, time.monotonic())
            self.binds += 1
            self._probe_wanted = False
            self._link, self._watch = link, watch
            self._up.set()
            self._changed()
            log.info("action=smpp_bound connector=%s host=%s:%d", self.name, s.host, s.port)
            reader = asyncio.create_task(self._read(link))
            watchdog = asyncio.create_task(self._watchdog(link, watch))
            dead = False
            try:
                done, _ = await asyncio.wait(
                    {reader, watchdog}, return_when=asyncio.FIRST_COMPLETED
                )
                dead = watchdog in done and watchdog.exception() is None and watchdog.result()
            finally:
                self._up.clear()
                self._link = self._watch = None
                delay = 0.0 if watch.live.proven else next_delay(delay, s.reconnect_max_s)
                self._next_bind_at = time.monotonic() + delay
                for t in (reader, watchdog):
                    t.cancel()
                await asyncio.gather(reader, watchdog, return_exceptions=True)
                if dead:
                    link.abort()
                else:
                    with contextlib.suppress(Exception):
                        await asyncio.wait_for(link.close(), BIND_WAIT_MAX_S + 1)
                self._changed()
            if not self._stopping:
                log.warning(
                    "action=smpp_unbound connector=%s reason=%s rebind_in_s=%.1f",
                    self.name,
                    "peer_silent" if dead else "session_ended",
                    delay,
                )

    async def _read(self, link: SmppLink) -> None:
        while True:
            ev = await link.next_event()
            if ev is None:
                return
            try:
                self._on_deliver(ev)
            except Exception:
                log.exception("action=smpp_deliver_failed connector=%s", self.name)

    async def _watchdog(self, link: SmppLink, watch: _Watch) -> bool:
        """Probe every `enquire_link_s` (and when a send asks); True once the peer is silent
        for `response_timeout_s` after a request, False if the session ended."""
        s = self.settings
        live = watch.live
        next_probe = time.monotonic() + s.enquire_link_s
        while True:
            self._wake.clear()
            now = time.monotonic()
            if live.dead(now):
                self.dead_links += 1
                log.warning(
                    "action=smpp_link_dead connector=%s silent_s=%.3f",
                    self.name,
                    now - live.last_heard,
                )
                return True
            if now >= next_probe or (self._probe_wanted and not live.probing):
                self._probe_wanted = False
                try:
                    link.enquire_link()
                except NotSent:
                    return False
                next_probe = now + s.enquire_link_s
                continue
            dead_at = live.dead_at()
            wake_at = next_probe if dead_at is None else min(next_probe, dead_at)
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(wake_at - now):
                    await self._wake.wait()

    def fresh(self, link: SmppLink) -> bool:
        """Is `link` still the bound link, and may a submit_sm be written into it now?"""
        watch = self._watch
        return link is self._link and watch is not None and watch.live.fresh(time.monotonic())

    async def usable_link(self) -> SmppLink | None:
        """The bound link once it is fresh, or None when there is none in time: a suspect link
        gets its verdict within `response_timeout_s`; after that a send waits for a bind
        attempt due within min(`response_timeout_s`, 5 s), and that long again for the bind."""
        s = self.settings
        bind_wait = min(BIND_WAIT_MAX_S, s.response_timeout_s)
        give_up = time.monotonic() + s.response_timeout_s + 2 * bind_wait
        while True:
            link, watch = self._link, self._watch
            now = time.monotonic()
            if link is None or watch is None:
                starts_in = max(0.0, self._next_bind_at - now)
                wait = min(starts_in + bind_wait, give_up - now)
                if starts_in > bind_wait or wait <= 0 or not await self.wait_bound(wait):
                    return None
                continue
            if watch.live.fresh(now):
                return link
            if now >= give_up:
                return None
            if not watch.live.probing:
                self._probe_wanted = True
                self._wake.set()
            news = self._news
            self._news_waiters += 1
            try:
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(min(s.response_timeout_s, give_up - now)):
                        await news.wait()
            finally:
                self._news_waiters -= 1
