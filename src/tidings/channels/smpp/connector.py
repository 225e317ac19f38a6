"""The SMPP 3.4 connector: one transceiver bind to one SMSC account.

What this owns (the session behind `SmppLink` owns none of it):

- through `keeper.LinkKeeper`: bind, re-bind with back-off, an `enquire_link` every
  `enquire_link_s`, giving up a link silent for `response_timeout_s`, and writing a submit_sm
  only into a link heard from within `response_timeout_s` (else it waits for the re-bound link);
- a send window (`asyncio.Semaphore(window)`) and a TPS limit per bind;
- throttling (`ESME_RTHROTTLED` 0x58, `ESME_RMSGQFUL` 0x14): halve the rate, back off and retry
  the same part a few times; only then give up with `Outcome.RETRY`;
- GSM-7/UCS-2 encoding and UDH concatenation through `core.sms_encoding`;
- sender TON/NPI: alphanumeric 5/0, numeric 1/1, short code (<= 8 digits) 3/0;
- `registered_delivery=1` and receipts: parsed from the TLVs or the text, correlated by
  normalised id (hex and decimal forms), also when a receipt arrives before its
  `submit_sm_resp` (it is parked for `PARK_S` seconds); a multipart message is reported final
  when all its parts are final (DELIVRD only if all are);
- outcomes: no `submit_sm_resp` in `response_timeout_s` (or the session dropped after the
  write) -> `Outcome.UNKNOWN`, never resent; a permanent status -> `Outcome.REJECTED`;
  throttling, or no live link in time for the first part (it was never written) ->
  `Outcome.RETRY` with `retry_at_us`.

A `deliver_sm` that is not a receipt is a mobile-originated message: its parts are joined by
their concatenation UDH (or `sar_*` TLVs), decoded (GSM-7, UCS-2, ...) and handed whole to the
inbound sink (`bind_inbound`), see channels/smpp/mo.py.

`provider_ref` in an accepted outcome is the SMSC id of every part, comma-separated. Receipts
are matched in memory (recent sends); receipts for messages sent before a restart are dropped
(logged), see README "SMPP".
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import orjson

from tidings.channels.port import InboundSink, ReportSink
from tidings.channels.smpp.keeper import LinkKeeper
from tidings.channels.smpp.link import (
    DeliverEvent,
    LinkError,
    LinkFactory,
    NotSent,
    SubmitRequest,
)
from tidings.channels.smpp.mo import Reassembler
from tidings.channels.smpp.receipts import (
    STAT_MAP,
    Receipt,
    id_candidates,
    is_receipt,
    parse_receipt,
)
from tidings.channels.smpp.session import open_session
from tidings.channels.smpp.settings import SmppSettings
from tidings.core.dispatch import Outcome, Report, SendJob, SendOutcome
from tidings.core.inbound import InboundMessage, sender_number
from tidings.core.model import ERR_TEXT
from tidings.core.sms_decoding import split_user_data
from tidings.core.sms_encoding import SmsEncodingError, encode_sms

log = logging.getLogger("tidings.smpp")

ESME_ROK = 0x00
ESME_RINVBNDSTS = 0x04
ESME_RSYSERR = 0x08
ESME_RINVSRCADR = 0x0A
ESME_RINVDSTADR = 0x0B
ESME_RMSGQFUL = 0x14
ESME_RTHROTTLED = 0x58
THROTTLING = frozenset({ESME_RTHROTTLED, ESME_RMSGQFUL})
# Statuses after which the same message may be tried again later (not accepted by the SMSC).
TEMPORARY = frozenset({ESME_RINVBNDSTS, ESME_RSYSERR, 0x45, 0x64})  # + SUBMITFAIL, TXFAIL
# Permanent statuses with a specific Messente err; any other permanent status -> err 1.
PERMANENT_ERR = {
    ESME_RINVDSTADR: 3,  # invalid destination address
    0x50: 5,  # ESME_RINVDSTTON
    0x51: 5,  # ESME_RINVDSTNPI
    ESME_RINVSRCADR: 7,  # invalid source address
    0x48: 7,  # ESME_RINVSRCTON
    0x49: 7,  # ESME_RINVSRCNPI
}

THROTTLE_TRIES = 6  # tries of one part while the SMSC throttles, before Outcome.RETRY
THROTTLE_BACKOFF_S = 0.1  # doubling, capped at 2 s
RETRY_AFTER_S = 5.0  # retry_at for RETRY outcomes
PARK_S = 600.0  # how long a receipt that came before its submit_sm_resp is kept
MAX_TRACKED = 200_000  # recent messages whose receipts we can still match


def sender_ton_npi(sender: str) -> tuple[str, int, int]:
    """(source_addr, ton, npi): alphanumeric 5/0, short code (<= 8 digits) 3/0, number 1/1."""
    s = sender.strip()
    digits = s[1:] if s.startswith("+") else s
    if not s:
        return "", 0, 0
    if digits.isdigit():
        if len(digits) <= 8 and not s.startswith("+"):
            return digits, 3, 0
        return digits, 1, 1
    return s, 5, 0


def validity_period(seconds: int) -> str:
    """SMPP relative time `YYMMDDhhmmss000R` for a validity in seconds ('' = SMSC default)."""
    if seconds <= 0:
        return ""
    days, rest = divmod(min(seconds, 63 * 86400), 86400)
    h, rest = divmod(rest, 3600)
    m, s = divmod(rest, 60)
    return f"0000{days:02d}{h:02d}{m:02d}{s:02d}000R"


@dataclass(slots=True)
class _Tracked:
    message_id: str
    total: int
    states: list[str | None]  # final SMPP stat per part (None = not final yet)
    errs: list[str | None]
    keys: list[tuple[str, int]] = field(default_factory=list)  # (normalised id, part)
    reported: set[str] = field(default_factory=set)
    acked: bool = False
    done: bool = False


class _Rate:
    """Spaces submits 1/tps apart; `slow_down` halves the rate, successes restore it."""

    def __init__(self, tps: float) -> None:
        self.base = 1.0 / tps if tps > 0 else 0.0
        self.interval = self.base
        self._next = 0.0
        self._lock = asyncio.Lock()

    async def wait(self) -> None:
        if self.interval <= 0:
            return
        async with self._lock:
            now = time.monotonic()
            if self._next > now:
                await asyncio.sleep(self._next - now)
                now = time.monotonic()
            self._next = max(now, self._next) + self.interval

    def slow_down(self) -> None:
        self.interval = min(max(self.interval * 2, 0.02), 1.0)

    def recover(self) -> None:
        if self.interval > self.base:
            self.interval = max(self.base, self.interval * 0.9)


class SmppConnector:
    def __init__(
        self,
        settings: SmppSettings,
        now_us: Callable[[], int],
        link_factory: LinkFactory | None = None,
    ) -> None:
        self.settings = settings
        self.name = settings.name
        self._now_us = now_us
        self._reports: ReportSink | None = None
        self._keeper = LinkKeeper(settings, link_factory or open_session, self._on_deliver)
        self._window = asyncio.Semaphore(max(1, settings.window))
        self._rate = _Rate(settings.tps)
        self._ref = 0
        # normalised SMSC id -> (tracked message, part index)
        self._by_ref: OrderedDict[str, tuple[_Tracked, int]] = OrderedDict()
        # receipts that came before their submit_sm_resp: normalised id -> (receipt, when)
        self._parked: dict[str, tuple[Receipt, float]] = {}
        # mobile-originated messages: parts waiting for the rest, and where whole ones go
        self._mo = Reassembler()
        self._inbound: InboundSink | None = None
        self._inbound_tasks: set[asyncio.Task[object]] = set()

    @property
    def binds(self) -> int:
        """Successful binds so far (for tests / metrics)."""
        return self._keeper.binds

    @property
    def dead_links(self) -> int:
        """Links given up because the SMSC stopped answering."""
        return self._keeper.dead_links

    # ---- lifecycle ----

    def bind_inbound(self, sink: InboundSink) -> None:
        self._inbound = sink

    async def start(self, reports: ReportSink) -> None:
        self._reports = reports
        await self._keeper.start()

    async def stop(self) -> None:
        await self._keeper.stop()
        if self._inbound_tasks:  # whole messages still being stored
            await asyncio.wait(list(self._inbound_tasks), timeout=5.0)

    async def wait_bound(self, timeout_s: float) -> bool:
        return await self._keeper.wait_bound(timeout_s)

    # ---- sending ----

    async def send(self, jobs: Sequence[SendJob]) -> list[SendOutcome]:
        return list(await asyncio.gather(*(self._send_one(j) for j in jobs)))

    async def reconcile(self, jobs: Sequence[SendJob]) -> dict[str, bool | None]:
        return {j.message_id: None for j in jobs}

    def _retry(self, j: SendJob, after_s: float = RETRY_AFTER_S) -> SendOutcome:
        return SendOutcome(
            j, Outcome.RETRY, self.name, retry_at_us=self._now_us() + int(after_s * 1_000_000)
        )

    async def _send_one(self, j: SendJob) -> SendOutcome:
        try:
            content = orjson.loads(j.content or "{}")
            self._ref = (self._ref + 1) & 0xFF
            enc = encode_sms(
                str(content.get("text", "")),
                str(content.get("autoconvert") or "on"),
                udh=content.get("udh") or None,
                ref=self._ref,
            )
        except (SmsEncodingError, ValueError) as exc:
            return SendOutcome(j, Outcome.REJECTED, self.name, err=1, error=str(exc))
        source, ton, npi = sender_ton_npi(j.sender)
        total = len(enc.parts)
        tracked = _Tracked(j.message_id, total, [None] * total, [None] * total)
        refs: list[str] = []
        for idx, payload in enumerate(enc.parts):
            req = SubmitRequest(
                destination_addr=j.to.lstrip("+"),
                short_message=payload,
                source_addr=source,
                source_addr_ton=ton,
                source_addr_npi=npi,
                esm_class=enc.esm_class,
                data_coding=enc.data_coding,
                registered_delivery=1,
                validity_period=validity_period(j.validity_s),
            )
            kind, value = await self._submit_part(req, j.deadline_us)
            if kind == "ok":
                refs.append(value)
                self._track(value, tracked, idx)
                continue
            if not refs:  # nothing reached the recipient yet
                if kind == "retry":
                    return self._retry(j)
                if kind == "unknown":
                    return SendOutcome(
                        j, Outcome.UNKNOWN, self.name, error=value, parts_count=total
                    )
                err = int(value)
                return SendOutcome(
                    j, Outcome.REJECTED, self.name, err=err, error=ERR_TEXT.get(err) or value
                )
            # Some parts are out: never resend. A part that failed for sure counts as a final
            # failure in the aggregate; an unknown one leaves the message to its validity.
            if kind != "unknown":
                tracked.states[idx] = "UNDELIV"
                tracked.errs[idx] = value
        tracked.acked = True
        self._emit(tracked, "ACK", 0)
        self._unpark(tracked)
        self._maybe_final(tracked)
        return SendOutcome(
            j, Outcome.ACCEPTED, self.name, provider_ref=",".join(refs), parts_count=total
        )

    async def _submit_part(
        self, req: SubmitRequest, deadline_us: int | None = None
    ) -> tuple[str, str]:
        """("ok", smsc_id) | ("retry", why) | ("unknown", why) | ("rejected", err).

        Throttled tries stop at `deadline_us` (the channel's validity end): past it the part
        could not be delivered in time, and the engine moves on to the next channel."""
        backoff = THROTTLE_BACKOFF_S
        why = "throttled"
        for _ in range(THROTTLE_TRIES):
            # Waiting for a live link happens outside the window, so a batch that meets a dead
            # SMSC waits once, all together, not window by window.
            link = await self._keeper.usable_link()
            if link is None:
                return "retry", "no live bind"
            await self._rate.wait()
            async with self._window:
                if not self._keeper.fresh(link):  # went stale while this waited for its turn
                    why = "no live bind"
                    continue
                try:
                    async with asyncio.timeout(self.settings.response_timeout_s):
                        res = await link.submit(req)
                except NotSent:  # the link ended just now: look for the next one
                    why = "no live bind"
                    continue
                except TimeoutError:
                    return "unknown", "no submit_sm_resp"
                except LinkError as exc:
                    return "unknown", str(exc)
                except ValueError as exc:  # the PDU cannot be encoded
                    log.warning("action=smpp_submit_invalid connector=%s error=%s", self.name, exc)
                    return "rejected", "1"
            status = res.command_status
            if status == ESME_ROK:
                self._rate.recover()
                return "ok", res.message_id or ""
            if status in THROTTLING:
                self._rate.slow_down()
                why = "throttled"
                if deadline_us is not None and self._now_us() + backoff * 1e6 >= deadline_us:
                    return "retry", "throttled until the validity ran out"
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 2.0)
                continue
            if status in TEMPORARY:
                return "retry", f"SMPP status 0x{status:02X}"
            return "rejected", str(PERMANENT_ERR.get(status, 1))
        return "retry", why

    # ---- receipts ----

    def _track(self, smsc_id: str, tracked: _Tracked, idx: int) -> None:
        key = id_candidates(smsc_id)[0] if smsc_id else ""
        if not key:
            return
        self._by_ref[key] = (tracked, idx)
        tracked.keys.append((key, idx))
        while len(self._by_ref) > MAX_TRACKED:
            self._by_ref.popitem(last=False)

    def _unpark(self, tracked: _Tracked) -> None:
        """Apply receipts that arrived before their submit_sm_resp."""
        if not self._parked:
            return
        for key, idx in tracked.keys:
            for cand in id_candidates(key):
                parked = self._parked.pop(cand, None)
                if parked is not None:
                    self._apply(parked[0], tracked, idx)
                    break

    def _on_deliver(self, ev: DeliverEvent) -> None:
        if not is_receipt(ev.esm_class):
            self._on_mo(ev)
            return
        receipt = parse_receipt(ev)
        if receipt is None:
            log.info("action=smpp_receipt_unreadable connector=%s", self.name)
            return
        for cand in id_candidates(receipt.message_id):
            hit = self._by_ref.get(cand)
            if hit is not None:
                self._apply(receipt, *hit)
                return
        now = time.monotonic()
        if len(self._parked) > 10_000:
            self._parked = {k: v for k, v in self._parked.items() if now - v[1] < PARK_S}
        self._parked[id_candidates(receipt.message_id)[0]] = (receipt, now)

    # ---- mobile-originated messages ----

    def _on_mo(self, ev: DeliverEvent) -> None:
        """A message from a phone: once whole (its parts joined), handed to the inbound sink.
        SMPP gives an MO no id of its own, so each whole message is a new one; the deliver_sm
        was already acknowledged by the session."""
        part = split_user_data(ev.esm_class, ev.data_coding, ev.short_message, ev.tlvs)
        text = self._mo.add(ev.source_addr, ev.destination_addr, part, time.monotonic())
        if text is None:
            return
        if self._inbound is None:
            log.warning("action=smpp_mo_dropped connector=%s reason=no_sink", self.name)
            return
        message = InboundMessage(
            key=f"mo:{uuid.uuid4()}",
            channel="sms",
            sender=sender_number(ev.source_addr),
            recipient=ev.destination_addr,
            text=text,
            at_us=self._now_us(),
        )
        task: asyncio.Task[object] = asyncio.ensure_future(self._inbound(self.name, [message]))
        self._inbound_tasks.add(task)
        task.add_done_callback(self._inbound_done)

    def _inbound_done(self, task: asyncio.Task[object]) -> None:
        self._inbound_tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error(
                "action=smpp_mo_not_stored connector=%s error=%r", self.name, task.exception()
            )

    def _apply(self, receipt: Receipt, tracked: _Tracked, idx: int) -> None:
        status, err, final = STAT_MAP[receipt.stat]
        if not final:
            if tracked.acked and status not in tracked.reported:
                self._emit(tracked, status, err)
            return
        tracked.states[idx] = receipt.stat
        tracked.errs[idx] = receipt.err
        self._maybe_final(tracked)

    def _maybe_final(self, tracked: _Tracked) -> None:
        if tracked.done or not tracked.acked or any(s is None for s in tracked.states):
            return
        tracked.done = True
        worst = next((s for s in tracked.states if s != "DELIVRD"), "DELIVRD")
        status, err, _ = STAT_MAP[worst or "UNKNOWN"]
        self._emit(tracked, status, err)
        for key, _ in tracked.keys:
            self._by_ref.pop(key, None)

    def _emit(self, tracked: _Tracked, status: str, err: int) -> None:
        tracked.reported.add(status)
        if self._reports is None:
            return
        error = ERR_TEXT.get(err) if err else None
        self._reports(
            Report(
                tracked.message_id, status, err, error, self._now_us(), parts_count=tracked.total
            )
        )
