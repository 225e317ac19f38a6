"""Delivers queued delivery-report webhooks: in order per omnimessage, retried for over a day.

The outbox rows are written in the same transaction as the status change they report, so a
crash loses none; this loop leases due rows, POSTs them (signed, through the SSRF guard) and
records each attempt.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import secrets
import socket
from collections.abc import Sequence
from dataclasses import dataclass

from tidings.engine.clock import Clock
from tidings.store.base import Store
from tidings.store.errors import log_failure
from tidings.store.records import WebhookJob, WebhookResult
from tidings.webhooks.backoff import RETRY_SCHEDULE_S, next_delay_s
from tidings.webhooks.delivery import WebhookClient
from tidings.webhooks.guard import TargetPolicy
from tidings.webhooks.signing import sign_headers

log = logging.getLogger("tidings.webhooks")


@dataclass(frozen=True, slots=True)
class OutboxSettings:
    batch: int = 200
    concurrency: int = 32
    lease_s: float = 120.0
    poll_s: float = 1.0
    timeout_s: float = 10.0
    schedule_s: tuple[float, ...] = RETRY_SCHEDULE_S


class WebhookOutbox:
    def __init__(
        self,
        store: Store,
        clock: Clock,
        policy: TargetPolicy,
        settings: OutboxSettings | None = None,
    ) -> None:
        self._store = store
        self._clock = clock
        self._policy = policy
        self._settings = settings or OutboxSettings()
        self._owner = f"{socket.gethostname()}:wh:{secrets.token_hex(4)}"
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._client: WebhookClient | None = None
        self._rng = random.Random()
        self.delivered = 0
        self.failed_attempts = 0

    def wake(self) -> None:
        self._wake.set()

    async def start(self) -> None:
        self._client = WebhookClient(self._policy, timeout_s=self._settings.timeout_s)
        self._task = asyncio.create_task(self._run(), name="webhook-outbox")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if self._client is not None:
            await self._client.aclose()

    async def _run(self) -> None:
        s = self._settings
        last_recover = -float("inf")
        while True:
            try:
                self._wake.clear()
                if self._clock.monotonic() - last_recover > s.lease_s / 4:
                    await self._store.outbox.recover(self._clock.now_us())
                    last_recover = self._clock.monotonic()
                now = self._clock.now_us()
                jobs = await self._store.outbox.claim(
                    self._owner, now, now + int(s.lease_s * 1_000_000), s.batch
                )
                if jobs:
                    await self._deliver(jobs)
                    continue  # an in-order successor may be due right away
                nxt = await self._store.outbox.next_due_us()
                delay = s.poll_s if nxt is None else min(s.poll_s, (nxt - now) / 1_000_000)
                if delay > 0:
                    await self._clock.wait(self._wake, delay)
            except asyncio.CancelledError:
                raise
            except Exception:
                log_failure(log, "action=webhook_loop_failed")
                await self._clock.sleep(1.0)

    async def _deliver(self, jobs: Sequence[WebhookJob]) -> None:
        assert self._client is not None
        client = self._client
        sem = asyncio.Semaphore(self._settings.concurrency)

        async def one(job: WebhookJob) -> WebhookResult:
            async with sem:
                at = self._clock.now_us()
                headers = sign_headers(
                    job.signing_secret, f"msg_{job.id}", at // 1_000_000, job.body
                )
                res = await client.post(job.url, job.body, headers)
                attempt = job.attempts + 1
                next_us: int | None = None
                final: str | None = None
                if res.blocked:
                    final = "blocked"
                elif res.gone:
                    final = "gone"
                elif not res.ok:
                    delay = next_delay_s(attempt, self._rng, schedule=self._settings.schedule_s)
                    if delay is not None:
                        next_us = self._clock.now_us() + int(delay * 1_000_000)
                    self.failed_attempts += 1
                else:
                    self.delivered += 1
                log.info(
                    "action=webhook_attempt id=%d omnimessage_id=%s attempt=%d status=%s ok=%s error=%s",
                    job.id,
                    job.omnimessage_id,
                    attempt,
                    res.status_code,
                    res.ok,
                    res.error,
                )
                return WebhookResult(
                    job, at, res.ok, res.status_code, res.error, res.duration_ms, next_us, final
                )

        results = await asyncio.gather(*(one(j) for j in jobs))
        await self._store.outbox.finish(self._owner, results)
