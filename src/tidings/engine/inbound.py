"""Inbound (MO) messages: store, then (after the opt-out hook) forward to the owner's inbound URL.

Every inbound message, from any connector and from the sandbox's simulated replies, comes
through `engine.callbacks.receive` to `InboundReceiver.receive`:

1. stored once per `(connector, provider message id)` with its owner (store/inbound.py), so a
   replayed webhook changes nothing;
2. `opt_out(stored)`: the hook where STOP / START keywords are recognised (after storing,
   before forwarding; set `engine.inbound.opt_out`); it answers the mark forwarded as
   `opt_out` (None, "out" or "in"). It runs for owned messages only, and may run again for a
   message whose forwarding a dead process left undone (`catch_up`), so it must be idempotent;
3. forwarded: queued in the webhook outbox for the owner's inbound URL, signed and retried like
   a delivery report.

A message without an owner is stored and logged, not forwarded.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import replace

from tidings.core.inbound import InboundMessage, StoredInbound, clip_text
from tidings.core.nul import NUL
from tidings.engine.clock import Clock
from tidings.store.base import Store
from tidings.store.errors import log_failure

log = logging.getLogger("tidings.engine.inbound")

OptOutHook = Callable[[StoredInbound], Awaitable[str | None]]
CATCH_UP_AFTER_US = 60 * 1_000_000  # a message still unforwarded this long after storing
CATCH_UP_EVERY_S = 60.0


async def no_opt_out(stored: StoredInbound) -> str | None:
    """The default hook: no keyword handling (the blacklist's `apply_opt_out` replaces it)."""
    return None


class InboundReceiver:
    def __init__(
        self,
        store: Store,
        clock: Clock,
        fallback_accounts: Mapping[str, str],
        wake_outbox: Callable[[], None],
    ) -> None:
        self._store = store
        self._clock = clock
        self._fallback = dict(fallback_accounts)  # connector name -> username
        self._wake_outbox = wake_outbox
        # The opt-out hook: called after storing, before forwarding (see the module docstring).
        self.opt_out: OptOutHook = no_opt_out

    async def receive(
        self, connector: str, messages: Sequence[InboundMessage]
    ) -> list[StoredInbound]:
        """Store and forward; the messages that were new, as stored."""
        storable = _storable(connector, messages)
        if not storable:
            return []
        now = self._clock.now_us()
        stored = await self._store.inbound.record(
            connector, storable, self._fallback.get(connector), now
        )
        for s in stored:
            if s.account_id is None:
                log.warning(
                    "action=inbound_unowned connector=%s channel=%s id=%s",
                    connector,
                    s.message.channel,
                    s.id,
                )
        forwarded = await self._forward(stored)
        log.info(
            "action=inbound connector=%s messages=%d new=%d",
            connector,
            len(storable),
            len(stored),
        )
        return forwarded

    async def catch_up(self) -> int:
        """Forward messages stored more than a minute ago but never forwarded (the process
        that stored them died first, or its forwarding transaction failed)."""
        before = self._clock.now_us() - CATCH_UP_AFTER_US
        stored = await self._store.inbound.unforwarded(before)
        await self._forward(stored)
        return len(stored)

    async def run_catch_up(self, every_s: float = CATCH_UP_EVERY_S) -> None:
        """`catch_up` now and then, for as long as the engine runs."""
        while True:
            try:
                await self.catch_up()
            except asyncio.CancelledError:
                raise
            except Exception:
                log_failure(log, "action=inbound_catch_up_failed")
            await self._clock.sleep(every_s)

    async def _forward(self, stored: Sequence[StoredInbound]) -> list[StoredInbound]:
        """Run the opt-out hook on each owned message, then queue it for its inbound URL; the
        messages with their marks."""
        out: list[StoredInbound] = []
        for s in stored:
            if s.account_id is not None:
                # -- after storing, before forwarding: the opt-out hook --
                s = replace(s, opt_out=await self.opt_out(s))
            out.append(s)
        owned = [s for s in out if s.account_id is not None]
        if owned and await self._store.inbound.forward(owned, self._clock.now_us()):
            self._wake_outbox()
        return out


def _storable(connector: str, messages: Sequence[InboundMessage]) -> list[InboundMessage]:
    """Messages as the database can keep them: an id or number holding a NUL character is
    dropped (PostgreSQL cannot store one, and it is no message of a real provider); in the
    text it is replaced. Texts are cut to `MAX_TEXT`."""
    out: list[InboundMessage] = []
    for m in messages:
        if any(NUL in v for v in (m.key, m.sender, m.recipient, m.channel)) or not m.key:
            log.warning("action=inbound_dropped connector=%s reason=nul_or_no_key", connector)
            continue
        text = clip_text(m.text.replace(NUL, "\ufffd"))
        content = m.content
        if content is not None and NUL in repr(content):
            content = {"unreadable": True}
        out.append(replace(m, text=text, content=content))
    return out
