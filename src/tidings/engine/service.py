"""The engine as the API and CLI use it: accept, cancel, read status; and its lifecycle."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from tidings.channels.router import Router
from tidings.core import quiet_hours
from tidings.core.dispatch import StatusChange
from tidings.core.errors import RequestInvalid
from tidings.core.inbound import InboundMessage, StoredInbound
from tidings.core.model import FINAL_FAILURE, Limits, OmniState
from tidings.core.opt_out import Keyword
from tidings.core.validation import validate_reschedule
from tidings.engine import opt_out
from tidings.engine.accepter import Accepter
from tidings.engine.callbacks import ProviderCallbacks
from tidings.engine.cancel_followup import CancelFollowUp
from tidings.engine.clock import Clock, SystemClock
from tidings.engine.dispatcher import Dispatcher, DispatchSettings
from tidings.engine.inbound import InboundReceiver
from tidings.engine.metrics import EngineMetrics
from tidings.engine.opt_out import OptOutResult
from tidings.engine.outbox import WebhookOutbox
from tidings.engine.reports import ReportRecorder
from tidings.engine.submit import AnswerFor, FrontDoor, Reauthenticate
from tidings.store.base import Store
from tidings.store.group_commit import GroupCommit
from tidings.store.messages import CancelRequest
from tidings.store.records import (
    Account,
    BlacklistSource,
    CancelResult,
    KeyAnswer,
    NewOmnimessage,
    OmniView,
)
from tidings.store.schedule import BatchResult
from tidings.webhooks.guard import TargetPolicy

# A cancel whose account changed under it is read again and tried once more, then unchecked.
_CANCEL_TRIES = 2

SANDBOX_CONNECTOR = "sandbox"


@dataclass(frozen=True, slots=True)
class EngineSettings:
    limits: Limits = field(default_factory=Limits)
    dispatch: DispatchSettings = field(default_factory=DispatchSettings)
    dispatch_enabled: bool = True
    # Where delivery reports may go: checked when a `dlr_url` is accepted and at every delivery.
    webhook_policy: TargetPolicy = field(default_factory=TargetPolicy)
    # connector name -> the username that owns its inbound messages when no account sent to
    # the number through it (the connector's `inbound_account` setting)
    inbound_accounts: Mapping[str, str] = field(default_factory=dict)


class Engine:
    def __init__(
        self,
        store: Store,
        router: Router,
        settings: EngineSettings | None = None,
        metrics: EngineMetrics | None = None,
        clock: Clock | None = None,
        outbox: Callable[[Store, Clock], WebhookOutbox] | None = None,
    ) -> None:
        self.store = store
        self.router = router
        self.settings = settings or EngineSettings()
        self.metrics = metrics or EngineMetrics()
        self.clock: Clock = clock or SystemClock(store.now_us)
        self.reports = ReportRecorder(store, self.clock, self.metrics)
        self.dispatcher = Dispatcher(
            store,
            router,
            self.clock,
            self.metrics,
            self.settings.dispatch,
            on_changes=self._on_changes,
        )
        self.reports.on_changes = self._on_changes
        self.reports.wait_for_answers = self.dispatcher.answers_recorded
        self.accepter = Accepter(store, self.dispatcher.wake)
        # Concurrent cancels share a transaction (each still answered after its commit).
        self._cancels: GroupCommit[CancelRequest, tuple[CancelResult, list[StatusChange]]] = (
            GroupCommit(
                "cancel",
                store.messages.cancel_many,
                500,
                in_flight=store.transactions_in_flight,
            )
        )
        self.outbox = outbox(store, self.clock) if outbox is not None else None
        self.inbound = InboundReceiver(
            store, self.clock, self.settings.inbound_accounts, self._wake_outbox
        )
        self.inbound.opt_out = self._opt_out_of
        self.callbacks = ProviderCallbacks(store, self.clock, self.reports, self.inbound)
        self.front_door = FrontDoor(
            self.clock, self.settings.limits, self.settings.webhook_policy, self.accept
        )
        self.cancel_followup = CancelFollowUp(store, self.clock, self._on_changes)
        self._started = False
        self._inbound_catch_up: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self.reports.start()
        await self.router.start(self.reports.submit, self.callbacks.receive)
        if self.outbox is not None:
            await self.outbox.start()
        self._inbound_catch_up = asyncio.create_task(
            self.inbound.run_catch_up(), name="inbound-catch-up"
        )
        self.cancel_followup.start()
        if self.settings.dispatch_enabled:
            await self.dispatcher.start()
            # Other processes' inserts wake this dispatcher (PostgreSQL LISTEN/NOTIFY).
            await self.store.listen(self.dispatcher.wake)
        self._started = True

    async def stop(self) -> None:
        if not self._started:
            return
        if self.settings.dispatch_enabled:
            await self.dispatcher.stop()
        if self._inbound_catch_up is not None:
            self._inbound_catch_up.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._inbound_catch_up
            self._inbound_catch_up = None
        await self.cancel_followup.stop()
        await self.reports.stop()
        await self.router.stop()
        if self.outbox is not None:
            await self.outbox.stop()
        self._started = False

    def _wake_outbox(self) -> None:
        if self.outbox is not None:
            self.outbox.wake()

    async def _on_changes(self, changes: list[StatusChange]) -> None:
        """Status changes just committed (their webhooks are queued in the same transaction)."""
        if any(c.status in FINAL_FAILURE for c in changes):
            self.dispatcher.wake()  # a failed attempt released its timer for the next channel
        if self.outbox is not None and any(c.dlr_url for c in changes):
            self.outbox.wake()

    # -- API operations ---------------------------------------------------------------------

    async def submit(
        self,
        account: Account,
        body: Any,
        *,
        reauthenticate: Reauthenticate | None = None,
        answer: AnswerFor | None = None,
        purpose: str | None = None,
    ) -> NewOmnimessage:
        """Validate and accept one omnimessage: see `FrontDoor.submit`."""
        return await self.front_door.submit(
            account, body, reauthenticate=reauthenticate, answer=answer, purpose=purpose
        )

    async def submit_bulk(
        self,
        account: Account,
        body: Any,
        *,
        reauthenticate: Reauthenticate | None = None,
        answer: AnswerFor | None = None,
    ) -> list[NewOmnimessage | RequestInvalid]:
        """Validate and accept a bulk request's valid items: see `FrontDoor.submit_bulk`."""
        return await self.front_door.submit_bulk(
            account, body, reauthenticate=reauthenticate, answer=answer
        )

    async def accept(
        self,
        items: Sequence[NewOmnimessage],
        expect: tuple[int, int] | None = None,
        answer: KeyAnswer | None = None,
    ) -> None:
        """Commit new omnimessages durably; returns once they are on disk. `expect`: (account id,
        version) the account must still have, else `AccountChanged` and nothing is stored.
        `answer`: the Idempotency-Key answer to record in the same transaction."""
        await self.accepter.add(items, expect, answer)
        self.metrics.accepted.inc(len(items))

    async def cancel(
        self, account: Account, omni_id: str, *, reauthenticate: Reauthenticate | None = None
    ) -> CancelResult:
        """Cancel a scheduled omnimessage. With `reauthenticate`, the cancelling transaction
        checks that the account still has the version it was read at (a remembered credential:
        no read of its own); if not, nothing is cancelled, the account is read again (a changed
        password or a removal raises there) and the cancel is tried with what it is now."""
        version = account.version if reauthenticate is not None else None
        for _ in range(_CANCEL_TRIES):
            result, changes = await self._cancels.add((account.id, omni_id, version))
            if result != CancelResult.ACCOUNT_CHANGED:
                break
            assert reauthenticate is not None
            account = await reauthenticate()
            version = account.version
        else:  # changed again meanwhile: `reauthenticate` itself has just read the account
            result, changes = await self._cancels.add((account.id, omni_id, None))
        if result == CancelResult.CANCELLED:
            self.metrics.cancelled.inc()
            await self._on_changes(changes)
        return result

    async def sandbox_reply(
        self, account: Account, sender: str, channel: str, text: str
    ) -> StoredInbound:
        """A recipient's reply, simulated: an inbound message from `sender` (E.164) to this
        account through the sandbox, taking the path of a real one (`callbacks.receive`)."""
        message = InboundMessage(
            key=str(uuid.uuid4()),
            channel=channel,
            sender=sender,
            recipient=account.default_sender,
            text=text,
            at_us=self.clock.now_us(),
            account_id=account.id,
        )
        outcome = await self.callbacks.receive(SANDBOX_CONNECTOR, [message])
        return outcome.inbound[0]

    async def status(self, account: Account, omni_id: str) -> OmniView | None:
        return await self.store.messages.get(account.id, omni_id)

    # -- the scheduling extensions (issue 12) ---------------------------------------------------

    async def reschedule(
        self, account: Account, omni_id: str, body: Any
    ) -> tuple[str, int, int, str | None] | None:
        """Validate a new `time_to_send` (RequestInvalid) and move a waiting message to it:
        (its state, the requested time, the due time, its `moved_by`), or None when it is not
        waiting (already sending, final, another account's, no such message). A time past
        sends at once. Quiet hours apply to the new time as on send: the message's own as
        sent, else the account's as they are now."""
        when = validate_reschedule(body, now=self.front_door.now(), limits=self.settings.limits)
        target = await self.store.schedule.reschedule_target(account.id, omni_id)
        if target is None:
            return None
        tts = int(when.timestamp() * 1_000_000)
        now = self.clock.now_us()
        window = quiet_hours.window_for(target.quiet_hours, account.quiet_hours)
        due, moved_by = quiet_hours.hold(max(tts, now), target.to, window)
        state = await self.store.schedule.reschedule(account.id, omni_id, due, tts, moved_by, now)
        if state is None:
            return None
        if state == OmniState.SCHEDULED:
            self.dispatcher.wake(due)  # perhaps earlier than anything claimed
        return state, tts, due, moved_by

    async def pause_batch(self, account: Account, batch: str) -> int:
        return (await self.store.schedule.pause_batch(account.id, batch)).changed

    async def resume_batch(self, account: Account, batch: str, skip_missed: bool) -> int:
        result = await self.store.schedule.resume_batch(account.id, batch, skip_missed)
        self.metrics.cancelled.inc(len({c.omnimessage_id for c in result.changes}))
        await self._after_batch(result)
        return result.changed

    async def cancel_batch(self, account: Account, batch: str) -> int:
        """Cancel a batch's waiting messages: decided and counted at once; their channels'
        DELETED statuses, events and webhooks follow (`CancelFollowUp`)."""
        result = await self.store.schedule.cancel_batch(account.id, batch)
        self.metrics.cancelled.inc(result.changed)
        await self._after_batch(result)
        return result.changed

    async def _after_batch(self, result: BatchResult) -> None:
        if result.changes:
            await self._on_changes(result.changes)
        if result.following:
            self.cancel_followup.wake()
        if result.earliest_due_us is not None:
            self.dispatcher.wake(result.earliest_due_us)

    # -- the blacklist (Messente's Phonebook API; issue 13) -------------------------------------

    async def blacklist_add(self, account: Account, phone: str) -> bool:
        """List an E.164 number; False when it already was. Nothing already handed to a
        provider is recalled; every later send to it ends REJECTD err 8 when it fires."""
        return await self.store.blacklist.add(
            account.id, phone, BlacklistSource.API, self.clock.now_us()
        )

    async def blacklist_remove(self, account: Account, phone: str) -> bool:
        """Unlist a number; False when it was not listed."""
        return await self.store.blacklist.remove(
            account.id, phone, BlacklistSource.API, self.clock.now_us()
        )

    async def _opt_out_of(self, stored: StoredInbound) -> str | None:
        """The inbound path's opt-out hook (engine/inbound.py): STOP / START keywords of an
        owned message applied (engine/opt_out.py), answered as the body's `opt_out` mark.
        An RCS confirmation goes from the agent written to; others from the account's
        default sender."""
        if stored.account_id is None:
            return None
        m = stored.message
        sender = m.recipient if m.channel == "rcs" else None
        try:
            result = await self.apply_opt_out(
                stored.account_id, m.sender, m.channel, m.text, stored.id, sender
            )
        except ValueError:  # not a possible number (a short code, a name): nothing to list
            return None
        if result.keyword is None:
            return None
        return "out" if result.keyword == Keyword.OPT_OUT else "in"

    async def apply_opt_out(
        self,
        account_id: int,
        phone: str,
        channel: str,
        text: str,
        inbound_id: str,
        sender: str | None = None,
    ) -> OptOutResult:
        """The keyword opt-out rules for one inbound text: see engine/opt_out.py."""
        return await opt_out.apply_opt_out(
            self, account_id, phone, channel, text, inbound_id, sender
        )
