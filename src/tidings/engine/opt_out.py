"""Keyword opt-out applied: the one function the inbound path calls for every inbound text.

`apply_opt_out` asks the rules (core/opt_out.py) whether the text is an opt-out or an opt-in for
the owning account and, if so, changes the account's blacklist and sends one confirmation back
on the channel the text came in on, through the front door like any other message:

- opt-out (`STOP`, ...): the number is listed (source `opt_out`, with the inbound message's id)
  and the account's opt-out reply is sent. A repeated STOP while listed changes nothing and
  sends nothing (the listing is one conditional insert: of two concurrent STOPs one wins).
- opt-in (`START`, ...): the number is unlisted and the opt-in reply is sent; a START from a
  number that is not listed sends nothing.

The confirmation goes to a number that is now listed, so it would itself be stopped by the
fire-time rule. It is marked instead: its omnimessage has `purpose = 'opt_out_reply'`, and the
rule (`load_omnis_to_fire`, `Omni.blacklisted`) applies only to messages without a purpose.
No request can set a purpose: the API's messages always have none. It ignores the account's
quiet hours (a confirmation answers the recipient now).

Every recognised keyword is a row of the number's blacklist history, with its inbound message
(action `added`, `removed`, or `unchanged` for a repeat).

If the process dies between the listing and the confirmation's acceptance, the number stays
listed and no confirmation is sent (a repeated STOP does not send one either): the safe side.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from tidings.core.errors import RequestInvalid
from tidings.core.opt_out import Keyword, OptOutRules, classify, reply_message
from tidings.core.phone import normalise_msisdn
from tidings.store.records import BlacklistSource

if TYPE_CHECKING:
    from tidings.engine.service import Engine

log = logging.getLogger("tidings.engine")

OPT_OUT_REPLY = "opt_out_reply"  # omnimessages.purpose of the confirmations
OPT_IN_REPLY = "opt_in_reply"


@dataclass(frozen=True, slots=True)
class OptOutResult:
    """What an inbound text was, and what it did.

    `keyword`: opt_out, opt_in, or None (an ordinary message: nothing was done).
    `changed`: the blacklist changed (False for a repeated STOP, or START while not listed).
    `confirmation_id`: the omnimessage id of the confirmation sent, if one was."""

    keyword: Keyword | None
    changed: bool = False
    confirmation_id: str | None = None

    @property
    def is_opt_out(self) -> bool:
        return self.keyword == Keyword.OPT_OUT

    @property
    def is_opt_in(self) -> bool:
        return self.keyword == Keyword.OPT_IN


async def apply_opt_out(
    engine: Engine,
    account_id: int,
    phone: str,
    channel: str,
    text: str,
    inbound_id: str,
    sender: str | None = None,
) -> OptOutResult:
    """Apply the opt-out rules to one inbound text from `phone` on `channel`, owned by the
    account. `sender`: what to send the confirmation from (the number or name the text was
    sent to; None: the account's default sender; RCS needs its agent here). Raises ValueError
    when `phone` is not a possible number (it cannot be listed). A confirmation the front door
    refuses (an RCS reply without a sender) is logged and left out (`confirmation_id` None);
    the blacklist change stands."""
    settings = await engine.store.accounts.opt_out(account_id)
    rules = OptOutRules.of(settings)
    keyword = classify(text, rules)
    if keyword is None:
        return OptOutResult(None)
    number = normalise_msisdn(phone)
    blacklist = engine.store.blacklist
    now = engine.clock.now_us()
    if keyword == Keyword.OPT_OUT:
        changed = await blacklist.add(
            account_id, number, BlacklistSource.OPT_OUT, now, inbound_id, record_unchanged=True
        )
        reply, purpose = rules.opt_out_reply, OPT_OUT_REPLY
    else:
        changed = await blacklist.remove(
            account_id, number, BlacklistSource.OPT_IN, now, inbound_id, record_unchanged=True
        )
        reply, purpose = rules.opt_in_reply, OPT_IN_REPLY
    log.info(
        "action=%s account=%d inbound=%s changed=%s", keyword.value, account_id, inbound_id, changed
    )
    if not changed:
        return OptOutResult(keyword)
    account = await engine.store.accounts.by_id(account_id)
    if account is None:  # removed meanwhile: nobody to answer as
        return OptOutResult(keyword, changed=True)
    message: dict[str, Any] = reply_message(channel, reply)
    if sender:
        message["sender"] = sender
    body = {"to": number, "messages": [message], "quiet_hours": None}
    try:
        record = await engine.submit(account, body, purpose=purpose)
    except RequestInvalid as exc:
        # E.g. RCS without an agent as `sender`: the listing stands; nothing to confirm with.
        log.warning(
            "action=%s_reply_refused account=%d inbound=%s error=%s",
            keyword.value,
            account_id,
            inbound_id,
            exc,
        )
        return OptOutResult(keyword, changed=True)
    return OptOutResult(keyword, changed=True, confirmation_id=record.id)
