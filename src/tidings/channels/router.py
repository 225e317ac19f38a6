"""Routing: which connector serves which channel (optionally per account)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from tidings.channels.port import Connector, InboundSink, InboundSource, ReportSink
from tidings.core.dispatch import SendJob
from tidings.core.model import CHANNELS


class Router:
    def __init__(
        self,
        routes: Mapping[str, Connector],
        account_routes: Mapping[int, Mapping[str, Connector]] | None = None,
        others: Sequence[Connector] = (),
    ) -> None:
        """`others`: configured connectors no route uses (still started, for their webhooks)."""
        missing = [c for c in CHANNELS if c not in routes]
        if missing:
            raise ValueError(f"no connector for channel(s): {', '.join(missing)}")
        self._routes = dict(routes)
        self._accounts = {a: dict(r) for a, r in (account_routes or {}).items()}
        self._others = list(others)

    def for_channel(self, channel: str) -> Connector:
        return self._routes[channel]

    def for_job(self, job: SendJob) -> Connector:
        """The connector for this job: the account's own route for the channel, else the default."""
        own = self._accounts.get(job.account_id)
        if own is not None and (conn := own.get(job.channel)) is not None:
            return conn
        return self._routes[job.channel]

    def named(self, name: str) -> Connector | None:
        for c in self.connectors():
            if c.name == name:
                return c
        return None

    def connectors(self) -> list[Connector]:
        every = [*self._routes.values(), *self._others]
        for r in self._accounts.values():
            every.extend(r.values())
        unique: dict[int, Connector] = {id(c): c for c in every}
        return list(unique.values())

    async def start(self, reports: ReportSink, inbound: InboundSink | None = None) -> None:
        for c in self.connectors():
            if inbound is not None and isinstance(c, InboundSource):
                c.bind_inbound(inbound)
            await c.start(reports)

    async def stop(self) -> None:
        for c in self.connectors():
            await c.stop()
