"""The sandbox connector: delivers into an inbox table and reports like a real channel would.

What it plays for each message is chosen by the recipient number (see `sandbox_outcomes`):
by default ACK, then DELIVRD after a short delay; magic numbers fail, expire, stay silent,
go slow or get read, so fallback and delivery-report handling can be tested.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

import orjson

from tidings.channels.port import ReportSink
from tidings.channels.sandbox_outcomes import READ_RECEIPT_CHANNELS, SandboxOutcome, outcome_for
from tidings.core.dispatch import Outcome, Report, SendJob, SendOutcome
from tidings.core.model import ERR_TEXT
from tidings.core.render import render_text
from tidings.store.base import Store
from tidings.store.errors import log_failure
from tidings.store.group_commit import GroupCommit
from tidings.store.records import SandboxMessage

log = logging.getLogger("tidings.sandbox")

# Plays acknowledged at once and then reported with (status, err), without an inbox row.
_REPORTED_NOW = {
    SandboxOutcome.UNDELIVERED: ("UNDELIV", 1),
    SandboxOutcome.INVALID_NUMBER: ("FAILED", 3),
    SandboxOutcome.EXPIRED: ("EXPIRED", 2),
}


@dataclass(frozen=True, slots=True)
class SandboxTiming:
    delivery_delay_s: float = 0.05  # ACK -> DELIVRD
    seen_delay_s: float = 0.2  # DELIVRD -> SEEN
    slow_delay_s: float = 3.0  # ACK -> DELIVRD for the "slow" outcome
    retry_after_s: float = 1.0  # when a temporarily refused message is tried again
    catch_up_s: float = 5.0  # how often reports lost with a dead process are made good


class SandboxConnector:
    name = "sandbox"

    def __init__(
        self, store: Store, now_us: Callable[[], int], timing: SandboxTiming | None = None
    ) -> None:
        self._store = store
        self._now_us = now_us
        self._timing = timing or SandboxTiming()
        self._reports: ReportSink | None = None
        self._pending: set[asyncio.Task[None]] = set()
        self._refused_once: set[str] = set()
        self._catch_up_task: asyncio.Task[None] | None = None
        # Groups handed over at the same time share one inbox transaction.
        self._inbox: GroupCommit[Sequence[SandboxMessage], None] = GroupCommit(
            "sandbox_inbox", self._insert, size=len
        )

    async def start(self, reports: ReportSink) -> None:
        self._reports = reports
        self._catch_up_task = asyncio.create_task(self._catch_up(), name="sandbox-catch-up")

    async def _catch_up(self) -> None:
        """Report what the inbox shows delivered but the message lacks a final status for: the
        report was pending in a process that died. Any process can do it; repeats change nothing."""
        while True:
            try:
                grace = int(max(2.0, 4 * self._timing.delivery_delay_s) * 1_000_000)
                for message_id in await self._store.sandbox.unreported(self._now_us() - grace):
                    self._emit(message_id, "DELIVRD", 0)
            except Exception:
                log_failure(log, "action=sandbox_catch_up_failed")
            await asyncio.sleep(self._timing.catch_up_s)

    async def send(self, jobs: Sequence[SendJob]) -> list[SendOutcome]:
        t = self._timing
        now = self._now_us()
        outcomes: dict[str, SendOutcome] = {}
        deliver: list[tuple[SendJob, SandboxOutcome]] = []  # into the inbox, then DELIVRD
        receipts: list[tuple[str, str, int]] = []  # (message id, status, err)
        for j in jobs:
            play = outcome_for(j.to, j.position)
            if play == SandboxOutcome.REJECTED:
                outcomes[j.message_id] = SendOutcome(
                    j, Outcome.REJECTED, self.name, err=9, error=ERR_TEXT[9]
                )
                continue
            if play == SandboxOutcome.TEMPORARY and j.message_id not in self._refused_once:
                self._refused_once.add(j.message_id)
                retry = now + int(t.retry_after_s * 1_000_000)
                outcomes[j.message_id] = SendOutcome(j, Outcome.RETRY, self.name, retry_at_us=retry)
                continue
            if play == SandboxOutcome.SILENT:
                outcomes[j.message_id] = SendOutcome(
                    j, Outcome.ACCEPTED, self.name, provider_ref=j.message_id
                )
                continue
            if play in _REPORTED_NOW:
                outcomes[j.message_id] = self._acked(j)
                receipts.append((j.message_id, *_REPORTED_NOW[play]))
            elif play == SandboxOutcome.SLOW:
                outcomes[j.message_id] = self._acked(j)
                self._later(t.slow_delay_s, functools.partial(self._deliver_late, j))
            else:  # delivered (or read), now or on the retry after a temporary refusal
                deliver.append((j, play))
        # A delivery is reported only once it is in the inbox: the write comes first, and a
        # message whose row could not be written is retried later, never reported delivered.
        seen: list[tuple[str, str, int]] = []
        written = await self._write_inbox([j for j, _ in deliver], now)
        for j, play in deliver:
            if j.message_id not in written:
                retry = now + int(t.retry_after_s * 1_000_000)
                outcomes[j.message_id] = SendOutcome(
                    j,
                    Outcome.RETRY,
                    self.name,
                    error="the sandbox inbox could not be written",
                    retry_at_us=retry,
                )
                continue
            outcomes[j.message_id] = self._acked(j)
            receipts.append((j.message_id, "DELIVRD", 0))
            if play == SandboxOutcome.SEEN and j.channel in READ_RECEIPT_CHANNELS:
                seen.append((j.message_id, "SEEN", 10))
        # One timer per batch and delay, not one per message (a burst hands over thousands).
        self._report(receipts, t.delivery_delay_s)
        self._report(seen, t.delivery_delay_s + t.seen_delay_s)
        return [outcomes[j.message_id] for j in jobs]

    def _acked(self, j: SendJob) -> SendOutcome:
        return SendOutcome(j, Outcome.ACCEPTED, self.name, provider_ref=j.message_id, status="ACK")

    async def _write_inbox(self, jobs: Sequence[SendJob], at_us: int) -> set[str]:
        """Commit the inbox rows of `jobs`; the ids whose row is committed. All in one group
        commit when that works, else row by row so one bad row does not hold back the rest."""
        if not jobs:
            return set()
        rows = [self._inbox_row(j, at_us) for j in jobs]
        try:
            await self._inbox.add(rows)
            return {r.message_id for r in rows}
        except Exception:
            log.exception("action=sandbox_inbox_write_failed count=%d", len(rows))
        # One request per row: the group commit tries them together, then each on its own.
        results = await asyncio.gather(
            *(self._inbox.add([r]) for r in rows), return_exceptions=True
        )
        for r, res in zip(rows, results, strict=True):
            if isinstance(res, BaseException):
                log.warning("action=sandbox_inbox_row_refused message_id=%s", r.message_id)
        return {r.message_id for r, res in zip(rows, results, strict=True) if res is None}

    async def _insert(self, requests: Sequence[Sequence[SandboxMessage]]) -> list[None]:
        await self._store.sandbox.insert([m for r in requests for m in r])
        return [None] * len(requests)

    def _inbox_row(self, j: SendJob, at_us: int) -> SandboxMessage:
        content = orjson.loads(j.content or "{}")
        return SandboxMessage(
            j.message_id,
            j.omnimessage_id,
            j.account_id,
            j.channel,
            j.to,
            j.sender,
            render_text(j.channel, content),
            j.content,
            at_us,
        )

    async def _deliver_late(self, j: SendJob) -> None:
        await self._inbox.add([self._inbox_row(j, self._now_us())])
        self._emit(j.message_id, "DELIVRD", 0)

    def _emit(self, message_id: str, status: str, err: int) -> None:
        if self._reports is not None:
            error = ERR_TEXT.get(err) if status not in ("SEEN", "DELIVRD", "ACK") else None
            self._reports(Report(message_id, status, err, error, self._now_us()))

    def _report(self, receipts: Sequence[tuple[str, str, int]], delay: float) -> None:
        if not receipts:
            return
        if delay <= 0:
            for message_id, status, err in receipts:
                self._emit(message_id, status, err)
            return

        async def later() -> None:
            for message_id, status, err in receipts:
                self._emit(message_id, status, err)

        self._later(delay, later)

    def _later(self, delay: float, action: Callable[[], Awaitable[None]]) -> None:
        async def run() -> None:
            await asyncio.sleep(delay)
            await action()

        task = asyncio.create_task(run())
        self._pending.add(task)
        task.add_done_callback(self._pending.discard)

    async def reconcile(self, jobs: Sequence[SendJob]) -> dict[str, bool | None]:
        have = await self._store.sandbox.has([j.message_id for j in jobs])
        return {j.message_id: j.message_id in have for j in jobs}

    async def stop(self) -> None:
        if self._catch_up_task is not None:
            self._catch_up_task.cancel()
            await asyncio.gather(self._catch_up_task, return_exceptions=True)
        for task in list(self._pending):
            task.cancel()
        await asyncio.gather(*self._pending, return_exceptions=True)
        self._pending.clear()
