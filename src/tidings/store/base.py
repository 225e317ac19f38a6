"""The store port: everything the engine, API and CLI persist, over either SQL backend.

Adapters (`sqlite.py`, `postgres.py`) supply transactions, the claim query and the database's
clock; the transaction scripts themselves are shared.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Coroutine, Mapping, Sequence
from contextlib import AbstractAsyncContextManager
from typing import Any, TypeVar

from tidings.store import (
    accounts_sql,
    engine_sql,
    limits_sql,
    messages_sql,
    outbox_sql,
    provider_sql,
    sessions_sql,
)
from tidings.store.outbox_sql import WebhookAttemptView, WebhookJob, WebhookResult
from tidings.store.records import (
    Account,
    CancelResult,
    Claim,
    FireResult,
    NewOmnimessage,
    OmniView,
    RecoveryResult,
    Report,
    SandboxMessage,
    SendOutcome,
    StatusChange,
    ThrottleRow,
    TokenGrant,
)
from tidings.store.tx import Tx

T = TypeVar("T")


class Store(ABC):
    kind: str

    @abstractmethod
    def write(self, *, urgent: bool = False) -> AbstractAsyncContextManager[Tx]:
        """A read-write transaction, committed on success."""

    @abstractmethod
    def read(self) -> AbstractAsyncContextManager[Tx]:
        """A read-only view (may see a slightly older snapshot than the writer)."""

    async def transact(
        self, script: Callable[[Tx], Coroutine[Any, Any, T]], *, urgent: bool = False
    ) -> T:
        """Run a transaction script (an `async def` taking a Tx and awaiting only its methods)
        in one write transaction. Adapters may run it in one step (SQLite: on its thread)."""
        async with self.write(urgent=urgent) as tx:
            return await script(tx)

    async def query(self, script: Callable[[Tx], Coroutine[Any, Any, T]]) -> T:
        """Run a read-only script, as `transact` does for writes."""
        async with self.read() as tx:
            return await script(tx)

    @abstractmethod
    async def claim_due(
        self, owner: str, lease_token: int, horizon_us: int, limit: int, lease_until_us: int
    ) -> list[Claim]:
        """Lease up to `limit` pending timers due by `horizon_us`: high priority first, then by
        due time."""

    @abstractmethod
    async def now_us(self) -> int:
        """The reference clock (the database's), in UTC microseconds."""

    @abstractmethod
    async def close(self) -> None: ...

    async def sole_dispatcher(self) -> bool:
        """True when no other live process can be dispatching from this database, so every
        lease still held belongs to a dead process (SQLite: a file lock). Default: False (on
        PostgreSQL other processes share the work; their leases must run out)."""
        return False

    async def listen(self, callback: Callable[[int | None], None]) -> None:
        """Call `callback(due_us)` when another process inserts a timer due at `due_us` (None: some
        timer may have changed; look again). Returns once subscribed; lasts until `close()`.
        Default: nothing (a backend without cross-process wake-ups relies on the safety poll)."""
        return None

    # accounts
    async def create_account(
        self, username: str, password_hash: str, default_sender: str, signing_secret: str
    ) -> Account:
        now = await self.now_us()
        return await self.transact(
            lambda tx: accounts_sql.create_account(
                tx, username, password_hash, default_sender, signing_secret, now
            )
        )

    async def get_account(self, username: str) -> Account | None:
        return await self.query(lambda tx: accounts_sql.get_account(tx, username))

    async def account_versions(self, account_ids: Sequence[int]) -> dict[int, int]:
        """The current version of each of these accounts that still exists."""
        return await self.query(lambda tx: accounts_sql.account_versions(tx, account_ids))

    async def list_accounts(self) -> list[Account]:
        return await self.query(lambda tx: accounts_sql.list_accounts(tx))

    async def remove_account(self, username: str) -> bool:
        return await self.transact(lambda tx: accounts_sql.remove_account(tx, username))

    async def update_account(
        self,
        username: str,
        *,
        password_hash: str | None = None,
        default_sender: str | None = None,
        dlr_url: str | None = None,
        clear_dlr_url: bool = False,
    ) -> Account | None:
        return await self.transact(
            lambda tx: accounts_sql.update_account(
                tx,
                username,
                password_hash=password_hash,
                default_sender=default_sender,
                dlr_url=dlr_url,
                clear_dlr_url=clear_dlr_url,
            )
        )

    # console sessions
    async def create_session(
        self, token_hash: str, account_id: int, now_us: int, expires_us: int
    ) -> None:
        await self.transact(
            lambda tx: sessions_sql.create_session(tx, token_hash, account_id, now_us, expires_us)
        )

    async def session_account(self, token_hash: str, now_us: int) -> Account | None:
        return await self.query(lambda tx: sessions_sql.session_account(tx, token_hash, now_us))

    async def end_session(self, token_hash: str) -> bool:
        return await self.transact(lambda tx: sessions_sql.end_session(tx, token_hash))

    # limiter state (sign-in back-off, shared token buckets)
    async def throttle_rows(self, keys: Sequence[str]) -> dict[str, ThrottleRow]:
        return await self.query(lambda tx: limits_sql.throttle_rows(tx, keys))

    async def throttle_update(
        self,
        keys: Sequence[str],
        decide: Callable[[Mapping[str, ThrottleRow]], Sequence[ThrottleRow]],
    ) -> list[ThrottleRow]:
        """Atomically replace the rows of `keys` by `decide(current rows)` (a pure function)."""
        return await self.transact(lambda tx: limits_sql.throttle_update(tx, keys, decide))

    async def throttle_prune(self, now_us: int) -> int:
        return await self.transact(lambda tx: limits_sql.throttle_prune(tx, now_us))

    async def take_tokens(
        self, account_id: int, want: float, rate_per_s: float, burst: float, now_us: int
    ) -> TokenGrant:
        return await self.transact(
            lambda tx: limits_sql.take_tokens(tx, account_id, want, rate_per_s, burst, now_us)
        )

    # messages
    async def insert_omnimessages(
        self, items: Sequence[NewOmnimessage], expect: Mapping[int, int] | None = None
    ) -> set[int]:
        """Store omnimessages in one transaction. `expect` maps account ids to the version each
        account must still have (api/auth.py's cached credentials): the items of an account that
        changed or is gone are left out, and such accounts' ids are returned."""

        async def script(tx: Tx) -> set[int]:
            stale: set[int] = set()
            kept = items
            if expect:
                current = await accounts_sql.account_versions(tx, list(expect))
                stale = {a for a, v in expect.items() if current.get(a) != v}
                kept = [o for o in items if o.account_id not in stale] if stale else items
            await messages_sql.insert_omnimessages(tx, kept)
            return stale

        return await self.transact(script)

    async def get_omnimessage(self, account_id: int, omni_id: str) -> OmniView | None:
        return await self.query(lambda tx: messages_sql.get_omnimessage(tx, account_id, omni_id))

    async def cancel_omnimessage(
        self, account_id: int, omni_id: str
    ) -> tuple[CancelResult, list[StatusChange]]:
        (result,) = await self.cancel_omnimessages([(account_id, omni_id)])
        return result

    async def cancel_omnimessages(
        self, requests: Sequence[tuple[int, str]]
    ) -> list[tuple[CancelResult, list[StatusChange]]]:
        """Several cancels, (account id, omnimessage id) each, in one transaction."""
        now = await self.now_us()
        return await self.transact(lambda tx: messages_sql.cancel_omnimessages(tx, requests, now))

    # sandbox inbox
    async def insert_sandbox_messages(self, items: Sequence[SandboxMessage]) -> None:
        await self.transact(lambda tx: messages_sql.insert_sandbox_messages(tx, items))

    async def list_sandbox_messages(
        self, account_id: int, to: str | None, limit: int = 100, before_us: int | None = None
    ) -> list[SandboxMessage]:
        return await self.query(
            lambda tx: messages_sql.list_sandbox_messages(tx, account_id, to, limit, before_us)
        )

    async def sandbox_has(self, message_ids: Sequence[str]) -> set[str]:
        return await self.query(lambda tx: messages_sql.sandbox_has(tx, message_ids))

    async def sandbox_unreported(self, delivered_before_us: int, limit: int = 5000) -> list[str]:
        return await self.query(
            lambda tx: messages_sql.sandbox_unreported(tx, delivered_before_us, limit)
        )

    # engine
    async def start_attempts(
        self, claims: Sequence[Claim], now_us: int, lease_until_us: int | None = None
    ) -> FireResult:
        return await self.transact(
            lambda tx: engine_sql.start_attempts(tx, claims, now_us, lease_until_us), urgent=True
        )

    async def finish_attempts(
        self, outcomes: Sequence[SendOutcome], now_us: int
    ) -> tuple[list[StatusChange], int]:
        return await self.transact(lambda tx: engine_sql.finish_attempts(tx, outcomes, now_us))

    async def apply_reports(self, reports: Sequence[Report], now_us: int) -> list[StatusChange]:
        return await self.transact(lambda tx: engine_sql.apply_reports(tx, reports, now_us))

    async def recover_expired(
        self,
        owner: str,
        lease_token: int,
        now_us: int,
        lease_until_us: int,
        every_lease: bool = False,
    ) -> RecoveryResult:
        return await self.transact(
            lambda tx: engine_sql.recover_expired(
                tx, owner, lease_token, now_us, lease_until_us, every_lease=every_lease
            )
        )

    async def release_owned(self, owner: str) -> int:
        return await self.transact(lambda tx: engine_sql.release_owned(tx, owner))

    async def extend_leases(self, owner: str, lease_until_us: int, tokens: Sequence[int]) -> int:
        return await self.transact(
            lambda tx: engine_sql.extend_leases(tx, owner, lease_until_us, tokens)
        )

    async def next_due_us(self) -> int | None:
        return await self.query(lambda tx: engine_sql.next_due_us(tx))

    async def pending_count(self) -> int:
        return await self.query(lambda tx: engine_sql.pending_count(tx))

    # webhook outbox
    async def claim_webhooks(
        self, owner: str, now_us: int, lease_until_us: int, limit: int
    ) -> list[WebhookJob]:
        return await self.transact(
            lambda tx: outbox_sql.claim_webhooks(tx, owner, now_us, lease_until_us, limit)
        )

    async def finish_webhooks(self, owner: str, results: Sequence[WebhookResult]) -> None:
        await self.transact(lambda tx: outbox_sql.finish_webhooks(tx, owner, results))

    async def recover_webhooks(self, now_us: int) -> int:
        return await self.transact(lambda tx: outbox_sql.recover_webhooks(tx, now_us))

    async def next_webhook_us(self) -> int | None:
        return await self.query(lambda tx: outbox_sql.next_webhook_us(tx))

    async def webhook_attempts(self, omnimessage_id: str) -> list[WebhookAttemptView]:
        return await self.query(lambda tx: outbox_sql.webhook_attempts(tx, omnimessage_id))

    # provider connectors (callback de-duplication, Telegram chat registry)
    async def record_provider_events(
        self, connector: str, events: Sequence[provider_sql.ProviderEventKey], now_us: int
    ) -> list[provider_sql.ProviderEventResult]:
        return await self.transact(
            lambda tx: provider_sql.record_provider_events(tx, connector, events, now_us)
        )

    async def create_telegram_link(
        self,
        connector: str,
        token: str,
        phone: str,
        account_id: int | None,
        now_us: int,
        expires_us: int,
    ) -> None:
        await self.transact(
            lambda tx: provider_sql.create_telegram_link(
                tx, connector, token, phone, account_id, now_us, expires_us
            )
        )

    async def redeem_telegram_link(
        self, connector: str, token: str, chat_id: int, now_us: int
    ) -> str | None:
        return await self.transact(
            lambda tx: provider_sql.redeem_telegram_link(tx, connector, token, chat_id, now_us)
        )

    async def bind_telegram_chat(
        self, connector: str, phone: str, chat_id: int, source: str, now_us: int
    ) -> None:
        await self.transact(
            lambda tx: provider_sql.bind_telegram_chat(
                tx, connector, phone, chat_id, source, now_us
            )
        )

    async def telegram_chat_ids(self, connector: str, phones: Sequence[str]) -> dict[str, int]:
        return await self.query(lambda tx: provider_sql.telegram_chat_ids(tx, connector, phones))

    async def forget_telegram_chat(self, connector: str, chat_id: int) -> int:
        return await self.transact(
            lambda tx: provider_sql.forget_telegram_chat(tx, connector, chat_id)
        )

    # web console (reads for its pages; see console_sql). Imported here, in the class, so these
    # additions stay in one block; console_sql does not import this module.
    from tidings.store import console_sql

    async def console_secret(self, name: str, candidate: str) -> str:
        now = await self.now_us()
        return await self.transact(
            lambda tx: self.console_sql.console_secret(tx, name, candidate, now)
        )

    async def console_scheduled(
        self,
        account_id: int,
        *,
        to: str | None = None,
        channel: str | None = None,
        from_us: int | None = None,
        until_us: int | None = None,
        after: tuple[int, str] | None = None,
        limit: int = 50,
    ) -> list[console_sql.OmniBrief]:
        return await self.query(
            lambda tx: self.console_sql.scheduled_page(
                tx,
                account_id,
                to=to,
                channel=channel,
                from_us=from_us,
                until_us=until_us,
                after=after,
                limit=limit,
            )
        )

    async def console_inbox(
        self, account_id: int, *, before: tuple[int, str] | None = None, limit: int = 50
    ) -> list[SandboxMessage]:
        return await self.query(
            lambda tx: self.console_sql.inbox_page(tx, account_id, before=before, limit=limit)
        )

    async def console_inbox_since(
        self, account_id: int, since_us: int, limit: int = 100
    ) -> list[SandboxMessage]:
        return await self.query(
            lambda tx: self.console_sql.inbox_since(tx, account_id, since_us, limit)
        )

    async def console_timeline(self, account_id: int, omni_id: str) -> console_sql.Timeline | None:
        return await self.query(lambda tx: self.console_sql.timeline(tx, account_id, omni_id))

    async def console_search(
        self,
        account_id: int,
        *,
        omni_id: str | None = None,
        to: str | None = None,
        text: str | None = None,
        before: tuple[int, str] | None = None,
        limit: int = 50,
    ) -> list[console_sql.OmniBrief]:
        return await self.query(
            lambda tx: self.console_sql.search(
                tx, account_id, omni_id=omni_id, to=to, text=text, before=before, limit=limit
            )
        )
