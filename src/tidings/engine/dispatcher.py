"""The dispatcher: claims due timers, fires them at their time, records what connectors say.

Three small loops share one in-memory heap:
- *claim*: leases due rows (and a short look-ahead) in batches, looping while batches come back
  full, then sleeps until the earliest pending due time, a wake-up, or the safety poll;
- *fire*: waits on the monotonic clock for the heap's head, then fires everything due in one
  batch (one transaction to start attempts, one hand-over per connector, one to record outcomes);
- *upkeep*: extends this process's leases, takes back expired ones, re-anchors the clock,
  and once a minute forgets Idempotency-Keys older than 24 hours.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import logging
import secrets
import socket
from collections import Counter, defaultdict
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, replace

from tidings.channels.port import Connector
from tidings.channels.router import Router
from tidings.core.dispatch import Outcome, SendJob, SendOutcome, StatusChange
from tidings.core.idempotency import KEEP_US
from tidings.engine.batching import BatchWorker
from tidings.engine.clock import Clock
from tidings.engine.metrics import EngineMetrics
from tidings.store.base import Store
from tidings.store.errors import log_failure
from tidings.store.records import Claim

log = logging.getLogger("tidings.engine")

KEY_PURGE_S = 60.0  # how often upkeep forgets expired Idempotency-Keys (store/idempotency.py)

ChangeSink = Callable[[list[StatusChange]], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class DispatchSettings:
    claim_batch: int = 2000
    fire_batch: int = 2000
    lookahead_s: float = 0.3
    lease_s: float = 30.0
    safety_poll_s: float = 2.0
    upkeep_s: float = 5.0
    max_inflight_batches: int = 4
    # How long before its due time an attempt is started in the database, so that the start
    # transaction has committed when the due time comes; the hand-over itself waits for the due
    # time, so nothing leaves early. A cancel arriving in this window finds the message already
    # being sent (404). Measured (bench lateness --quick, SQLite, 500/s): 0 -> p50 15 ms;
    # 0.03 -> p50 0.4 ms, p99 8-10 ms.
    fire_lead_s: float = 0.03
    # Messages due within this much after the batch's first are started in the same transaction
    # (fewer, larger start transactions leave the writer free for accepts and bookkeeping).
    fire_window_s: float = 0.01


def _waves(jobs: Sequence[SendJob], width_us: int = 500) -> list[list[SendJob]]:
    """Jobs grouped by due time: each wave spans at most `width_us` and leaves at its latest due."""
    waves: list[list[SendJob]] = []
    for j in sorted(jobs, key=lambda j: j.due_us):
        if waves and j.due_us - waves[-1][0].due_us <= width_us:
            waves[-1].append(j)
        else:
            waves.append([j])
    return waves


class Dispatcher:
    def __init__(
        self,
        store: Store,
        router: Router,
        clock: Clock,
        metrics: EngineMetrics,
        settings: DispatchSettings | None = None,
        on_changes: ChangeSink | None = None,
    ) -> None:
        self.store = store
        self.router = router
        self.clock = clock
        self.metrics = metrics
        self.settings = settings or DispatchSettings()
        self.on_changes = on_changes
        self.owner = f"{socket.gethostname()}:{secrets.token_hex(4)}"
        self._heap: list[tuple[int, int, int, Claim]] = []
        self._seq = itertools.count()
        self._claim_wake = asyncio.Event()
        self._fire_wake = asyncio.Event()
        self._sleeping_until_us: int | None = None  # while asleep: wake for anything due before
        self._woken_due_us: int | None = None  # while claiming: earliest due announced meanwhile
        self._inflight = asyncio.Semaphore(self.settings.max_inflight_batches)
        self._heap_room = asyncio.Event()  # set when the heap has room for another claim
        self._fire_tasks: set[asyncio.Task[None]] = set()
        self._tasks: list[asyncio.Task[None]] = []
        self._stopping = False
        self._counted_at = 0.0
        self._purged_at = 0.0
        self._finisher: BatchWorker[SendOutcome] = BatchWorker(
            "finish", self._finish, self.settings.fire_batch
        )
        # Channel messages handed to a connector whose answer is not yet committed.
        self._unanswered: Counter[str] = Counter()
        self._answered = asyncio.Event()
        # Lease tokens of the work in hand (claims in the heap or being started, hand-overs
        # awaiting their recorded answer), counted per claim: only these leases are renewed. A
        # claim lost with a failed transaction is forgotten, so its lease must run out.
        self._held: Counter[int] = Counter()

    # -- public -----------------------------------------------------------------------------

    def wake(self, due_us: int | None = None) -> None:
        """Something new is due at `due_us` (None: unknown, claim now): claim again if the claim
        loop would otherwise reach it too late. While a claim runs, the earliest such due time is
        remembered and decides how long the loop sleeps afterwards."""
        due = -1 if due_us is None else due_us
        if self._sleeping_until_us is None:
            if self._woken_due_us is None or due < self._woken_due_us:
                self._woken_due_us = due
        elif due < self._sleeping_until_us:
            self._claim_wake.set()

    async def answers_recorded(self, message_ids: Iterable[str], wait_s: float = 30.0) -> None:
        """Wait until the connector answers for these channel messages are committed.

        Delivery reports wait on this so that an answer's status (an ACK) is recorded, and
        reported, before a receipt that overtook the background finisher."""
        deadline = self.clock.monotonic() + wait_s
        ids = set(message_ids)
        while any(i in self._unanswered for i in ids):
            left = deadline - self.clock.monotonic()
            if left <= 0:
                log.warning("action=report_wait_timeout count=%d", len(ids))
                return
            self._answered.clear()
            await self.clock.wait(self._answered, left)

    async def start(self) -> None:
        await self.clock.calibrate()
        self._finisher.start()
        # Alone on the database (SQLite), what a killed predecessor left leased is taken back
        # now, not when its lease runs out: nothing is late beyond the restart itself.
        await self._recover(orphans=await self.store.sole_dispatcher())
        self._tasks = [
            asyncio.create_task(self._claim_loop(), name="claim"),
            asyncio.create_task(self._fire_loop(), name="fire"),
            asyncio.create_task(self._upkeep_loop(), name="upkeep"),
        ]
        log.info("action=dispatcher_started owner=%s", self.owner)

    async def stop(self) -> None:
        """Stop claiming, finish the batches in flight, give back what was claimed but not fired."""
        self._stopping = True
        for t in self._tasks:
            t.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._fire_tasks:
            await asyncio.gather(*self._fire_tasks, return_exceptions=True)
        await self._finisher.stop()
        released = await self.store.timers.release_owned(self.owner)
        self._heap.clear()
        log.info("action=dispatcher_stopped owner=%s released=%d", self.owner, released)

    # -- claim --------------------------------------------------------------------------------

    def _lease_until(self) -> int:
        return self.clock.now_us() + int(self.settings.lease_s * 1_000_000)

    async def _claim_loop(self) -> None:
        s = self.settings
        while not self._stopping:
            try:
                self._claim_wake.clear()
                self._woken_due_us = None
                now = self.clock.now_us()
                horizon = now + int(s.lookahead_s * 1_000_000)
                token = secrets.randbits(62)
                claims = await self.store.timers.claim_due(
                    self.owner, token, horizon, s.claim_batch, self._lease_until()
                )
                if claims:
                    self._held.update(c.lease_token for c in claims)
                    self.metrics.claimed.inc(len(claims))
                    self.metrics.claim_batch.observe(len(claims))
                    for c in claims:
                        heapq.heappush(self._heap, (c.due_us, -c.priority, next(self._seq), c))
                    self._fire_wake.set()
                if len(claims) == s.claim_batch:
                    await self._room_in_heap()
                    continue
                nxt = await self.store.timers.next_due_us()
                woken = self._woken_due_us
                if woken is not None and (nxt is None or woken < nxt):
                    nxt = woken
                await self._sleep_until(nxt, horizon)
            except asyncio.CancelledError:
                raise
            except Exception:
                log_failure(log, "action=claim_failed")
                await self.clock.sleep(0.5)

    def _heap_limit(self) -> int:
        return self.settings.fire_batch * self.settings.max_inflight_batches

    async def _room_in_heap(self) -> None:
        """While a burst is being claimed, stay a few fire batches ahead and no more: claiming
        the whole burst first would compete with its first start transactions (and, with several
        processes, leave the others nothing to share)."""
        await asyncio.sleep(0)
        while len(self._heap) >= self._heap_limit() and not self._stopping:
            self._heap_room.clear()
            await self._heap_room.wait()

    async def _sleep_until(self, next_due_us: int | None, horizon_us: int) -> None:
        """Sleep until the next claim is needed.

        A steady stream of due times would otherwise be claimed a few rows at a time in a tight
        loop, each claim a write transaction competing with accepts and hand-overs. So claims
        come at most every half look-ahead (leaving at least that much claimed work in the heap),
        and never later than half a look-ahead before the next due time."""
        s = self.settings
        lookahead_us = int(s.lookahead_s * 1_000_000)
        half = lookahead_us // 2
        now = self.clock.now_us()
        if next_due_us is not None and next_due_us <= horizon_us:
            return  # it became due within the claim's horizon after the claim read: claim now
        target = now + int(s.safety_poll_s * 1_000_000)
        if next_due_us is not None:
            cadence = min(now + half, next_due_us - half)
            target = min(target, max(next_due_us - lookahead_us, cadence))
        self._sleeping_until_us = target + half
        delay = (target - now) / 1_000_000
        if delay > 0 and not self._claim_wake.is_set():
            await self.clock.wait(self._claim_wake, delay)
        self._sleeping_until_us = None

    # -- fire ---------------------------------------------------------------------------------

    async def _fire_loop(self) -> None:
        while not self._stopping:
            self._fire_wake.clear()
            if not self._heap:
                await self._fire_wake.wait()
                continue
            lead_us = int(self.settings.fire_lead_s * 1_000_000)
            head_due = self._heap[0][0]
            delay = self.clock.monotonic_for(head_due - lead_us) - self.clock.monotonic()
            if delay > 0:
                # Sleep on the monotonic clock; an earlier claim interrupts the wait.
                await self.clock.wait(self._fire_wake, delay)
                continue
            # Start the attempts a little ahead (the transaction takes time), together with what
            # falls due in the next `fire_window_s` (one transaction for several instants); each
            # message is still handed to its connector no earlier than its due time (_hand_over).
            # The batch is taken once a transaction slot is free, so it grows while waiting.
            await self._inflight.acquire()
            horizon = self.clock.now_us() + lead_us + int(self.settings.fire_window_s * 1_000_000)
            batch: list[Claim] = []
            while (
                self._heap and self._heap[0][0] <= horizon and len(batch) < self.settings.fire_batch
            ):
                batch.append(heapq.heappop(self._heap)[3])
            if len(self._heap) < self._heap_limit():
                self._heap_room.set()
            if not batch:
                self._inflight.release()
                await asyncio.sleep(0)
                continue
            task = asyncio.create_task(self._fire(batch))
            self._fire_tasks.add(task)
            task.add_done_callback(self._fire_done)

    def _fire_done(self, task: asyncio.Task[None]) -> None:
        self._fire_tasks.discard(task)

    async def _fire(self, claims: Sequence[Claim]) -> None:
        try:
            self.metrics.fire_batch.observe(len(claims))
            try:
                result = await self.store.attempts.start(
                    claims, self.clock.now_us(), self._lease_until()
                )
            finally:
                # The slot bounds transactions in flight, not hand-overs: those wait for their
                # due time (the fire lead) and for connectors, and must not hold up the next batch.
                self._inflight.release()
            if result.lost_lease:
                self.metrics.lost_lease.inc(result.lost_lease)
            await self._emit(result.changes)
            if result.sends:
                await self._hand_over(result.sends)
            # A fallback to the next channel releases its timer as due now.
            if any(c.kind == "attempt" for c in claims):
                self.wake()
        except Exception:
            # Whatever the start transaction did is now up to lease recovery.
            log_failure(log, "action=fire_failed count=%d", len(claims))
        finally:
            self._let_go(c.lease_token for c in claims)

    async def _not_before(self, due_us: int) -> int:
        """Wait until `due_us` on the monotonic clock; return the time it then is (>= due_us)."""
        while True:
            now = self.clock.now_us()
            if now >= due_us:
                return now
            await self.clock.sleep((due_us - now) / 1_000_000)

    async def _hand_over(self, jobs: Sequence[SendJob]) -> None:
        """Hand each job to its connector at its due time. Jobs due at different instants (a
        batch claimed while behind) go out as separate groups, concurrently, each at its own
        instant: a slow connector answer for one group never holds back the next."""
        groups: list[tuple[Connector, list[SendJob]]] = []
        for wave in _waves(jobs):
            by_connector: dict[int, tuple[Connector, list[SendJob]]] = {}
            for j in wave:
                conn = self.router.for_job(j)
                by_connector.setdefault(id(conn), (conn, []))[1].append(j)
            groups.extend(by_connector.values())

        async def one(conn: Connector, group: list[SendJob]) -> None:
            try:
                handed = await self._not_before(max(j.due_us for j in group))
                try:
                    outcomes = await conn.send(group)
                except Exception as exc:  # a connector crash: we cannot know what left
                    log_failure(
                        log, "action=connector_failed connector=%s count=%d", conn.name, len(group)
                    )
                    outcomes = [
                        SendOutcome(j, Outcome.UNKNOWN, conn.name, error=str(exc)) for j in group
                    ]
            except BaseException:
                self._answers_done(group)  # recovery takes these over
                raise
            for j in group:
                self.metrics.sent.labels(j.channel).inc()
                if j.position == 0:
                    self.metrics.lateness.observe((handed - j.due_us) / 1_000_000)
            # Recording the answers is bookkeeping: it runs behind, batched across groups, so
            # the next due messages are not kept waiting. A crash before it is recorded leaves
            # the attempt leased; recovery then asks the connector (see _reconcile).
            self._finisher.submit_many(replace(o, handed_us=handed) for o in outcomes)

        self._unanswered.update(j.message_id for j in jobs)
        self._held.update(j.lease_token for j in jobs)
        await asyncio.gather(*(one(conn, group) for conn, group in groups))

    async def _finish(self, outcomes: list[SendOutcome]) -> None:
        changes, lost = await self.store.attempts.finish(outcomes, self.clock.now_us())
        self._answers_done(o.job for o in outcomes)
        if lost:
            self.metrics.lost_lease.inc(lost)
        await self._emit(changes)
        # A retry, a refusal (the next channel) or an unknown answer (its deadline, which may
        # already have passed) re-armed a timer that may be due before the next claim.
        if any(o.outcome != Outcome.ACCEPTED for o in outcomes):
            self.wake()

    def _answers_done(self, jobs: Iterable[SendJob]) -> None:
        done = list(jobs)
        for j in done:
            self._unanswered[j.message_id] -= 1
            if self._unanswered[j.message_id] <= 0:
                del self._unanswered[j.message_id]
        self._let_go(j.lease_token for j in done)
        self._answered.set()

    def _let_go(self, tokens: Iterable[int]) -> None:
        self._held.subtract(tokens)
        for token in [t for t, n in self._held.items() if n <= 0]:
            del self._held[token]

    async def _emit(self, changes: list[StatusChange]) -> None:
        if changes and self.on_changes is not None:
            await self.on_changes(changes)

    # -- upkeep -------------------------------------------------------------------------------

    async def _recover(self, orphans: bool = False) -> None:
        """Take back leases that ran out (with `orphans`: every lease, all left by dead
        processes)."""
        now = self.clock.now_us()
        result = await self.store.attempts.recover(
            self.owner, secrets.randbits(62), now, self._lease_until(), every_lease=orphans
        )
        if result.released:
            self.metrics.recovered.inc(result.released)
            log.info("action=leases_recovered released=%d", result.released)
        if result.unknown:
            self.metrics.unknown.inc(len(result.unknown))
            log.warning("action=unknown_recovered count=%d", len(result.unknown))
            await self._reconcile(result.unknown)
        if result.released:
            self.wake()

    async def _reconcile(self, jobs: Sequence[SendJob]) -> None:
        """Ask each connector about messages caught mid-send; resend only what provably never left."""
        outcomes: list[SendOutcome] = []
        by_conn: dict[int, list[SendJob]] = defaultdict(list)
        for j in jobs:
            by_conn[id(self.router.for_job(j))].append(j)
        for group in by_conn.values():
            conn = self.router.for_job(group[0])
            try:
                known = await conn.reconcile(group)
            except Exception:
                log_failure(log, "action=reconcile_failed connector=%s", conn.name)
                known = {}
            now = self.clock.now_us()
            for j in group:
                has = known.get(j.message_id)
                if has is True:
                    outcomes.append(
                        SendOutcome(j, Outcome.ACCEPTED, conn.name, provider_ref=j.message_id)
                    )
                elif has is False:
                    outcomes.append(SendOutcome(j, Outcome.RETRY, conn.name, retry_at_us=now))
                else:
                    outcomes.append(SendOutcome(j, Outcome.UNKNOWN, conn.name))
        changes, _ = await self.store.attempts.finish(outcomes, self.clock.now_us())
        await self._emit(changes)
        self.wake()

    async def _upkeep_loop(self) -> None:
        while not self._stopping:
            await self.clock.sleep(self.settings.upkeep_s)
            try:
                await self.clock.calibrate()
                if self._held:
                    # Leases set within the last pass are left: each is renewed at the latest
                    # one pass later, with at least lease_s - 2 * upkeep_s (>= lease_s / 3) left.
                    until = self._lease_until()
                    await self.store.timers.extend_leases(
                        self.owner,
                        until,
                        sorted(self._held),
                        until - int(self.settings.upkeep_s * 1_000_000),
                    )
                await self._recover()
                if self.clock.monotonic() - self._counted_at > 30:
                    self._counted_at = self.clock.monotonic()
                    self.metrics.pending.set(await self.store.timers.pending_count())
                if self.clock.monotonic() - self._purged_at > KEY_PURGE_S:
                    self._purged_at = self.clock.monotonic()
                    await self.store.idempotency.purge(self.clock.now_us() - KEEP_US)
            except asyncio.CancelledError:
                raise
            except Exception:
                log_failure(log, "action=upkeep_failed")
