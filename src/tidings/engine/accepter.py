"""Accepting new omnimessages: group-committed, then the dispatcher is told what became due.

A 201 is sent only after the caller's rows are committed; requests arriving together share one
transaction (see store.group_commit). A caller authenticated from a cached credential passes the
account version it saw; the insert checks it in its own transaction, so a password change or an
account removal committed before the request is never missed (and costs no extra round trip).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from tidings.store.base import Store
from tidings.store.group_commit import GroupCommit
from tidings.store.records import KeyAnswer, NewOmnimessage

_Request = tuple[Sequence[NewOmnimessage], tuple[int, int] | None, KeyAnswer | None]


class AccountChanged(Exception):
    """The account changed (or was removed) since the caller's credentials were verified:
    nothing was stored; authenticate again."""


class Accepter:
    def __init__(
        self, store: Store, on_committed: Callable[[int], None], max_batch: int = 5000
    ) -> None:
        self._store = store
        self._on_committed = on_committed
        self._group: GroupCommit[_Request, bool] = GroupCommit(
            "accept",
            self._insert,
            max_batch,
            size=lambda r: len(r[0]),
        )

    async def _insert(self, requests: Sequence[_Request]) -> list[bool]:
        # Versions only grow: of two callers of one account that saw different versions, the
        # lower one is stale without asking.
        expect: dict[int, int] = {}
        for _, e, _ in requests:
            if e is not None:
                expect[e[0]] = max(e[1], expect.get(e[0], e[1]))

        def current(e: tuple[int, int] | None) -> bool:
            return e is None or expect[e[0]] == e[1]

        stale = await self._store.messages.insert(
            [m for items, e, _ in requests if current(e) for m in items],
            expect,
            [a for _, e, a in requests if a is not None and current(e)],
        )
        if stale:  # the store left out every item of a changed account, unchecked ones too
            again = [
                m for items, e, _ in requests if e is None for m in items if m.account_id in stale
            ]
            answers = [
                a for _, e, a in requests if e is None and a is not None and a.account_id in stale
            ]
            await self._store.messages.insert(again, None, answers)
        return [current(e) and (e is None or e[0] not in stale) for _, e, _ in requests]

    async def add(
        self,
        items: Sequence[NewOmnimessage],
        expect: tuple[int, int] | None = None,
        answer: KeyAnswer | None = None,
    ) -> None:
        """Commit `items`; `expect` = (account id, version) that must still hold, else
        `AccountChanged` and nothing is stored. `answer`: the request's Idempotency-Key answer,
        recorded in the same transaction (`KeyLost` when its claim was taken over: nothing
        stored)."""
        if not await self._group.add((items, expect, answer)):
            raise AccountChanged()
        if items:
            self._on_committed(min(i.due_us for i in items))
