"""The store: narrow ports over one backend's transactions.

Callers use a port: `store.accounts.get(...)`, `store.attempts.start(...)`, `store.console.inbox(...)`.
Each port (accounts.py, sessions.py, limits.py, messages.py, sandbox.py, timers.py, attempts.py,
events.py, outbox.py, providers.py, console.py, idempotency.py, schedule.py,
blacklist.py, inbound.py) runs named statements (sql/*.sql, queries.py)
through the runner below. A backend adapter (`sqlite.py`, `postgres.py`) supplies only the
connections and transactions, the statements it runs its own way (the claim, the accept path's
wake-up of other processes) and the database's clock.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from contextlib import AbstractAsyncContextManager
from typing import TypeVar

from tidings.store import messages
from tidings.store.accounts import Accounts
from tidings.store.attempts import Attempts
from tidings.store.blacklist import Blacklist
from tidings.store.console import Console
from tidings.store.events import Events
from tidings.store.idempotency import Idempotency
from tidings.store.inbound import Inbound
from tidings.store.limits import Limits
from tidings.store.messages import Messages
from tidings.store.outbox import Outbox
from tidings.store.providers import Providers
from tidings.store.records import CancelResult, Claim, KeyAnswer, NewOmnimessage, StatusChange
from tidings.store.sandbox import Sandbox
from tidings.store.schedule import Schedule
from tidings.store.sessions import Sessions
from tidings.store.timers import Timers
from tidings.store.tx import Script, Tx

T = TypeVar("T")


class Store(ABC):
    kind: str
    # How many group transactions of cancels are worth running at once: SQLite has one
    # writer; on PostgreSQL a second overlaps the first's round trips.
    transactions_in_flight: int = 1

    def __init__(self) -> None:
        self.accounts = Accounts(self)
        self.sessions = Sessions(self)
        self.limits = Limits(self)
        self.messages = Messages(self)
        self.sandbox = Sandbox(self)
        self.timers = Timers(self)
        self.attempts = Attempts(self)
        self.events = Events(self)
        self.outbox = Outbox(self)
        self.providers = Providers(self)
        self.console = Console(self)
        self.idempotency = Idempotency(self)
        self.schedule = Schedule(self)
        self.blacklist = Blacklist(self)
        self.inbound = Inbound(self)

    # the runner the ports use

    @abstractmethod
    def write(self, *, urgent: bool = False) -> AbstractAsyncContextManager[Tx]:
        """A read-write transaction, committed on success."""

    @abstractmethod
    def read(self) -> AbstractAsyncContextManager[Tx]:
        """A read-only view (may see a slightly older snapshot than the writer)."""

    async def transact(self, script: Script[T], *, urgent: bool = False) -> T:
        """Run a transaction script (an `async def` taking a Tx and awaiting only its methods)
        in one write transaction. Adapters may run it in one step (SQLite: on its thread)."""
        async with self.write(urgent=urgent) as tx:
            return await script(tx)

    async def query(self, script: Script[T]) -> T:
        """Run a read-only script, as `transact` does for writes."""
        async with self.read() as tx:
            return await script(tx)

    async def dispatch_query(self, script: Script[T]) -> T:
        """`query` for the dispatcher's own reads (SQLite: on a connection of their own)."""
        return await self.query(script)

    @abstractmethod
    async def now_us(self) -> int:
        """The reference clock (the database's), in UTC microseconds."""

    # the backend's own operations

    @abstractmethod
    async def claim_due(
        self, owner: str, lease_token: int, horizon_us: int, limit: int, lease_until_us: int
    ) -> list[Claim]:
        """Lease up to `limit` pending timers due by `horizon_us`: high priority first, then by
        due time (`claim_due` in sql/sqlite.sql, sql/postgresql.sql)."""

    async def insert_omnimessages(
        self,
        items: Sequence[NewOmnimessage],
        expect: Mapping[int, int] | None = None,
        answers: Sequence[KeyAnswer] = (),
    ) -> set[int]:
        """See `Messages.insert`."""
        return await self.transact(lambda tx: messages.insert_checked(tx, items, expect, answers))

    async def cancel_omnimessages(
        self, requests: Sequence[messages.CancelRequest]
    ) -> list[tuple[CancelResult, list[StatusChange]]]:
        """See `Messages.cancel_many`."""
        now = await self.now_us()
        return await self.transact(lambda tx: messages.cancel_many(tx, requests, now))

    @abstractmethod
    async def close(self) -> None: ...

    async def sole_dispatcher(self) -> bool:
        """True when no other live process can be dispatching from this database, so every
        lease still held belongs to a dead process (SQLite: a file lock). Default: False (on
        PostgreSQL other processes share the work; their leases must run out)."""
        return False

    async def wake_others(self, due_us: int) -> None:
        """Tell the dispatchers of other processes (`listen`) that a timer is now due at
        `due_us`: for a due time moved earlier after the insert that announced it (a
        reschedule, a batch resume). Sent after the change committed. Default: nothing (one
        process: the caller wakes its own dispatcher)."""
        return None

    async def listen(self, callback: Callable[[int | None], None]) -> None:
        """Call `callback(due_us)` when another process inserts a timer due at `due_us` (None: some
        timer may have changed; look again). Returns once subscribed; lasts until `close()`.
        Default: nothing (a backend without cross-process wake-ups relies on the safety poll)."""
        return None
