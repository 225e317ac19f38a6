"""Accepting new omnimessages: group-committed, then the dispatcher is told what became due.

A 201 is sent only after the caller's rows are committed; requests arriving together share one
transaction (see store.group_commit).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from tidings.store.base import Store
from tidings.store.group_commit import GroupCommit
from tidings.store.records import NewOmnimessage


class Accepter:
    def __init__(
        self, store: Store, on_committed: Callable[[int], None], max_batch: int = 5000
    ) -> None:
        self._store = store
        self._on_committed = on_committed
        self._group: GroupCommit[Sequence[NewOmnimessage], None] = GroupCommit(
            "accept", self._insert, max_batch, size=len
        )

    async def _insert(self, requests: Sequence[Sequence[NewOmnimessage]]) -> list[None]:
        await self._store.insert_omnimessages([m for r in requests for m in r])
        return [None] * len(requests)

    async def add(self, items: Sequence[NewOmnimessage]) -> None:
        await self._group.add(items)
        if items:
            self._on_committed(min(i.due_us for i in items))
