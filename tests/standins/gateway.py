"""An in-process Tidings (store, engine, API app) configured from a dict, for connector tests.

The connectors talk real HTTP to stand-ins on loopback; the stand-ins' callbacks are posted to the
app in process (ASGI), with the exact bytes and headers the stand-in signed.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from tidings import runtime
from tidings.channels.sandbox import SandboxTiming
from tidings.config import parse_config
from tidings.core.dispatch import Report
from tidings.engine.dispatcher import DispatchSettings
from tidings.engine.service import Engine, EngineSettings
from tidings.store.base import Store
from tidings.store.factory import open_store
from tidings.store.urls import parse_database_url
from tidings.web.app import create_app
from tidings.web.auth import Authenticator
from tidings.web.context import ApiContext, ApiSettings
from tidings.webhooks.guard import TargetPolicy

USER, PASSWORD = "alice", "alice-secret-pw"


@dataclass
class Gateway:
    engine: Engine
    store: Store
    client: httpx.AsyncClient
    reports: list[Report] = field(default_factory=list)

    async def send(self, to: str, *messages: dict[str, Any]) -> str:
        r = await self.client.post("/v1/omnimessage", json={"to": to, "messages": list(messages)})
        assert r.status_code == 201, r.text
        return str(r.json()["omnimessage_id"])

    async def status(self, omni_id: str) -> list[dict[str, Any]]:
        r = await self.client.get(f"/v1/omnimessage/{omni_id}/status")
        assert r.status_code == 200, r.text
        statuses: list[dict[str, Any]] = r.json()["statuses"]
        return statuses

    async def wait_status(
        self,
        omni_id: str,
        check: Callable[[list[dict[str, Any]]], bool],
        within: float = 10.0,
    ) -> list[dict[str, Any]]:
        deadline = time.monotonic() + within
        while True:
            st = await self.status(omni_id)
            if check(st):
                return st
            if time.monotonic() > deadline:
                raise AssertionError(f"status never matched: {st}")
            await asyncio.sleep(0.05)

    async def callback(
        self, connector: str, body: bytes, headers: Mapping[str, str]
    ) -> httpx.Response:
        r = await self.client.post(
            f"/providers/{connector}/webhook", content=body, headers=dict(headers), auth=None
        )
        await self.engine.reports.drain()
        return r

    def reported(self, message_id: str, status: str) -> int:
        return sum(1 for r in self.reports if r.message_id == message_id and r.status == status)


async def wait_for(cond: Callable[[], bool], within: float = 10.0) -> None:
    deadline = time.monotonic() + within
    while not cond():
        if time.monotonic() > deadline:
            raise AssertionError("condition never became true")
        await asyncio.sleep(0.02)


@asynccontextmanager
async def gateway(
    tmp_path: Path,
    config: Mapping[str, Any],
    env: Mapping[str, str] | None = None,
    database: str | None = None,
    *,
    allow_loopback_webhooks: bool = False,
) -> AsyncIterator[Gateway]:
    """The app in process over `database` (default: a SQLite file in `tmp_path`);
    `allow_loopback_webhooks`: webhooks may go to a receiver on 127.0.0.0/8."""
    url = parse_database_url(database or f"sqlite:///{tmp_path / 'gateway.db'}")
    store = await open_store(url)
    try:
        await runtime.create_account(store, USER, PASSWORD, "AliceCo")
        cfg = parse_config(config, env or {})
        settings = runtime.ServeSettings(
            database=url,
            config=cfg,
            sandbox=SandboxTiming(delivery_delay_s=0.01),
            engine=EngineSettings(
                dispatch=DispatchSettings(safety_poll_s=0.1, upkeep_s=1.0),
                webhook_policy=TargetPolicy.allowing("127.0.0.0/8")
                if allow_loopback_webhooks
                else TargetPolicy(),
            ),
        )
        engine = runtime.build_engine(store, settings, await runtime.account_ids(store, cfg))
        seen: list[Report] = []
        submit = engine.reports.submit

        def record(report: Report) -> None:
            seen.append(report)
            submit(report)

        engine.reports.submit = record  # type: ignore[method-assign]
        app = create_app(
            ApiContext(engine, store, Authenticator(store), ApiSettings()), manage_engine=False
        )
        await engine.start()
        try:
            async with httpx.AsyncClient(
                transport=httpx.ASGITransport(app=app),
                base_url="http://tidings.test",
                auth=(USER, PASSWORD),
            ) as client:
                yield Gateway(engine, store, client, seen)
        finally:
            await engine.stop()
    finally:
        await store.close()
