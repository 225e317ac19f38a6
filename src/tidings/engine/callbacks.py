"""The one entry for provider callbacks: events a connector parsed from a provider's webhook.

Statuses and inbound (MO) messages come through here alike. Each status event is matched to our message (by our own id when the provider echoes it, else through
`channel_messages.provider_ref`) and de-duplicated in `provider_events` (`INSERT ... ON CONFLICT
DO NOTHING` decides) before it reaches the report recorder, so a replayed callback changes
nothing. Inbound messages go to `InboundReceiver` (engine/inbound.py), de-duplicated the same
way on the provider's message id. Authenticating and parsing the request is the connector's
(over HTTP, the web layer's).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, replace

from tidings.channels.http_base import ProviderEvent
from tidings.core.dispatch import Report
from tidings.core.inbound import InboundMessage, StoredInbound
from tidings.core.nul import NUL
from tidings.engine.clock import Clock
from tidings.engine.inbound import InboundReceiver
from tidings.engine.reports import ReportRecorder
from tidings.store.base import Store
from tidings.store.records import ProviderEventKey

log = logging.getLogger("tidings.engine.callbacks")

PARK_WINDOW_US = 10 * 60 * 1_000_000  # an unknown ref this recent is asked to be retried


@dataclass(frozen=True, slots=True)
class CallbackOutcome:
    new: int  # events recorded now (handed to the report recorder)
    unknown: int  # events about no message we know (yet)
    unknown_recent: int  # ... of which recent enough that the provider should send them again
    inbound: tuple[StoredInbound, ...] = ()  # inbound messages stored now (not replays)

    @property
    def retry_later(self) -> bool:
        """A callback that overtook our own record of the send: ask the provider to retry."""
        return self.unknown_recent > 0


class ProviderCallbacks:
    def __init__(
        self, store: Store, clock: Clock, reports: ReportRecorder, inbound: InboundReceiver
    ) -> None:
        self._store = store
        self._clock = clock
        self._reports = reports
        self.inbound = inbound

    async def receive(
        self, connector: str, events: Sequence[ProviderEvent | InboundMessage]
    ) -> CallbackOutcome:
        messages = [e for e in events if isinstance(e, InboundMessage)]
        stored = await self.inbound.receive(connector, messages) if messages else []
        statuses = [e for e in events if isinstance(e, ProviderEvent)]
        outcome = await self._statuses(connector, statuses)
        return replace(outcome, inbound=tuple(stored))

    async def _statuses(self, connector: str, events: Sequence[ProviderEvent]) -> CallbackOutcome:
        storable = _storable(connector, events)
        if not storable:
            return CallbackOutcome(0, 0, 0)
        now = self._clock.now_us()
        keys = [ProviderEventKey(e.key, e.provider_ref, e.message_id) for e in storable]
        results = await self._store.providers.record_events(connector, keys, now)
        new = unknown = unknown_recent = 0
        for e, res in zip(storable, results, strict=True):
            if res.message_id is None:
                unknown += 1
                unknown_recent += now - e.at_us < PARK_WINDOW_US
            elif res.new:
                new += 1
                self._reports.submit(Report(res.message_id, e.status, e.err, e.error, e.at_us))
        log.info(
            "action=provider_callback connector=%s events=%d new=%d unknown=%d",
            connector,
            len(storable),
            new,
            unknown,
        )
        return CallbackOutcome(new, unknown, unknown_recent)


def _storable(connector: str, events: Sequence[ProviderEvent]) -> list[ProviderEvent]:
    """Events as the database can keep them. A NUL character cannot be stored in PostgreSQL:
    an event whose id or message ids hold one cannot be about a message of ours and is dropped
    (answering an error would only make the provider send it again); in the provider's error
    text it is replaced."""
    out: list[ProviderEvent] = []
    for e in events:
        if NUL in e.key or NUL in e.provider_ref or NUL in (e.message_id or ""):
            log.warning("action=provider_event_dropped connector=%s reason=nul", connector)
        elif e.error is not None and NUL in e.error:
            out.append(replace(e, error=e.error.replace(NUL, "\ufffd")))
        else:
            out.append(e)
    return out
