"""The one front door for new messages: validate, check the `dlr_url` target, build, accept.

The API's send endpoints and the console's compose form both come in here (the CLI sends through
the API), so a rule about what may be sent is written once. Reading the body off the wire, and
what to answer, stay with the caller.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import orjson

from tidings.core import quiet_hours
from tidings.core.errors import ErrorItem, RequestInvalid, invalid
from tidings.core.ids import new_id
from tidings.core.model import PRIORITIES, Limits, OmnimessageRequest
from tidings.core.validation import validate_bulk, validate_omnimessage
from tidings.engine.accepter import AccountChanged
from tidings.engine.clock import Clock
from tidings.store.records import Account, KeyAnswer, NewChannelMessage, NewOmnimessage
from tidings.webhooks.guard import TargetPolicy, early_problem

Reauthenticate = Callable[[], Awaitable[Account]]
"""The caller's account read again, after it changed under a request; raises when the caller's
credentials no longer hold (the API answers 401)."""

Accept = Callable[
    [Sequence[NewOmnimessage], "tuple[int, int] | None", "KeyAnswer | None"], Awaitable[None]
]

AnswerFor = Callable[[Sequence["NewOmnimessage | RequestInvalid"]], KeyAnswer]
"""The Idempotency-Key answer a request will give for these outcomes (in the request's order),
to be recorded in the transaction that stores them (store/idempotency.py)."""

_ACCEPT_TRIES = 2


def build_record(
    account: Account, req: OmnimessageRequest, now_us: int, purpose: str | None = None
) -> NewOmnimessage:
    """The rows to store for a valid request: fresh ids, the account's defaults filled in.
    `purpose`: see `NewOmnimessage.purpose` (None for everything the API accepts)."""
    tts = None
    if req.time_to_send is not None:
        tts = int(req.time_to_send.timestamp() * 1_000_000)
    due_us = now_us if tts is None else max(tts, now_us)
    own = quiet_hours.own_window(req.quiet_hours_given, req.quiet_hours)
    held_us, moved_by = quiet_hours.hold(
        due_us, req.to, quiet_hours.window_for(own, account.quiet_hours)
    )
    return NewOmnimessage(
        id=new_id(),
        account_id=account.id,
        to=req.to,
        priority=PRIORITIES[req.priority],
        time_to_send_us=tts,
        due_us=held_us,
        moved_by=moved_by,
        quiet_hours=own,
        dlr_url=req.dlr_url or account.dlr_url,
        text_store=req.text_store,
        created_us=now_us,
        channels=tuple(
            NewChannelMessage(
                id=new_id(),
                channel=m.channel,
                sender=m.sender or account.default_sender,
                validity_s=m.validity_s,
                content=orjson.dumps(m.content).decode(),
            )
            for m in req.messages
        ),
        batch=req.batch,
        purpose=purpose,
    )


@dataclass(frozen=True, slots=True)
class FrontDoor:
    clock: Clock
    limits: Limits
    webhook_policy: TargetPolicy
    accept: Accept

    def now(self) -> datetime:
        return datetime.fromtimestamp(self.clock.now_us() / 1_000_000, UTC)

    async def submit(
        self,
        account: Account,
        body: Any,
        *,
        reauthenticate: Reauthenticate | None = None,
        answer: AnswerFor | None = None,
        purpose: str | None = None,
    ) -> NewOmnimessage:
        """Accept one omnimessage (a decoded JSON body); `RequestInvalid` names what is wrong.

        With `reauthenticate`, the account is checked in the accepting transaction to be as the
        (possibly remembered) credential found it; see `_store`. With `answer`, the request's
        Idempotency-Key answer is recorded in the same transaction. `purpose` marks a message
        the server sends itself (an opt-out confirmation); never set from a request.
        """
        req = validate_omnimessage(body, now=self.now(), limits=self.limits)
        if (problem := await self._dlr_problem(req, "")) is not None:
            raise RequestInvalid([problem])
        (record,) = await self._store(account, [req], reauthenticate, answer, purpose)
        return record

    async def submit_bulk(
        self,
        account: Account,
        body: Any,
        *,
        reauthenticate: Reauthenticate | None = None,
        answer: AnswerFor | None = None,
    ) -> list[NewOmnimessage | RequestInvalid]:
        """Accept the valid items of a bulk body, in one transaction; each refused item is its
        `RequestInvalid`, in the request's order. A body that is not a bulk request at all
        raises `RequestInvalid`. `answer`: as for `submit` (when nothing is stored, nothing
        is recorded: the caller keeps its answer itself)."""
        items = validate_bulk(body, now=self.now(), limits=self.limits)
        checked: list[OmnimessageRequest | RequestInvalid] = []
        for i, item in enumerate(items):
            if not isinstance(item, RequestInvalid) and (
                problem := await self._dlr_problem(item, f"messages[{i}].")
            ):
                item = RequestInvalid([problem])
            checked.append(item)
        valid = [item for item in checked if not isinstance(item, RequestInvalid)]

        def merged(records: Sequence[NewOmnimessage]) -> list[NewOmnimessage | RequestInvalid]:
            built = iter(records)
            return [item if isinstance(item, RequestInvalid) else next(built) for item in checked]

        if valid:
            whole = None if answer is None else (lambda recs: answer(merged(recs)))
            records = iter(await self._store(account, valid, reauthenticate, whole))
        elif reauthenticate is not None:
            await reauthenticate()  # nothing stored, so no transaction checked the account
            records = iter([])
        else:
            records = iter([])
        return [item if isinstance(item, RequestInvalid) else next(records) for item in checked]

    async def _dlr_problem(self, req: OmnimessageRequest, prefix: str) -> ErrorItem | None:
        """A `dlr_url` that the SSRF guard would refuse is refused now, not silently at delivery."""
        if req.dlr_url is None:
            return None
        problem = await early_problem(req.dlr_url, self.webhook_policy)
        if problem is None:
            return None
        return invalid(f"dlr_url is not an allowed webhook target: {problem}", f"{prefix}dlr_url")

    async def _store(
        self,
        account: Account,
        reqs: Sequence[OmnimessageRequest],
        reauthenticate: Reauthenticate | None,
        answer: AnswerFor | None = None,
        purpose: str | None = None,
    ) -> list[NewOmnimessage]:
        """Build and accept the records. With `reauthenticate`, the accepting transaction checks
        that the account still has the version it was read at; if it changed (a password change,
        a removal), authenticate again and rebuild with what the account is now."""

        def build(a: Account) -> list[NewOmnimessage]:
            now_us = self.clock.now_us()
            return [build_record(a, req, now_us, purpose) for req in reqs]

        def answer_of(records: list[NewOmnimessage]) -> KeyAnswer | None:
            return None if answer is None else answer(records)

        if reauthenticate is not None:
            for _ in range(_ACCEPT_TRIES):
                records = build(account)
                try:
                    await self.accept(records, (account.id, account.version), answer_of(records))
                    return records
                except AccountChanged:
                    account = await reauthenticate()
        # Changed again meanwhile (`reauthenticate` itself just read the version), or unchecked.
        records = build(account)
        await self.accept(records, None, answer_of(records))
        return records
