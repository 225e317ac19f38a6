"""The sandbox connector: delivers into an inbox table and reports ACK, then DELIVRD."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence

import orjson

from tidings.channels.port import ReportSink
from tidings.core.dispatch import Outcome, Report, SendJob, SendOutcome
from tidings.core.render import render_text
from tidings.store.base import Store
from tidings.store.records import SandboxMessage


class SandboxConnector:
    name = "sandbox"

    def __init__(
        self, store: Store, now_us: Callable[[], int], *, delivery_delay_s: float = 0.05
    ) -> None:
        self._store = store
        self._now_us = now_us
        self._delay = delivery_delay_s
        self._reports: ReportSink | None = None
        self._timers: set[asyncio.TimerHandle] = set()

    async def start(self, reports: ReportSink) -> None:
        self._reports = reports

    async def send(self, jobs: Sequence[SendJob]) -> list[SendOutcome]:
        now = self._now_us()
        inbox = [
            SandboxMessage(
                j.message_id,
                j.omnimessage_id,
                j.account_id,
                j.channel,
                j.to,
                j.sender,
                render_text(j.channel, orjson.loads(j.content or "{}")),
                j.content,
                now,
            )
            for j in jobs
        ]
        await self._store.insert_sandbox_messages(inbox)
        for j in jobs:
            self._report(j.message_id, "ACK", 0.0)
            self._report(j.message_id, "DELIVRD", self._delay)
        return [
            SendOutcome(j, Outcome.ACCEPTED, self.name, provider_ref=j.message_id) for j in jobs
        ]

    def _report(self, message_id: str, status: str, delay: float) -> None:
        def emit() -> None:
            if self._reports is not None:
                self._reports(Report(message_id, status, 0, None, self._now_us()))

        if delay <= 0:
            emit()
            return
        handle = asyncio.get_running_loop().call_later(delay, emit)
        self._timers.add(handle)
        asyncio.get_running_loop().call_later(delay + 0.001, self._timers.discard, handle)

    async def reconcile(self, jobs: Sequence[SendJob]) -> dict[str, bool | None]:
        have = await self._store.sandbox_has([j.message_id for j in jobs])
        return {j.message_id: j.message_id in have for j in jobs}

    async def stop(self) -> None:
        for h in self._timers:
            h.cancel()
        self._timers.clear()
