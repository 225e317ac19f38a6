"""Routing: which connector serves which channel."""

from __future__ import annotations

from collections.abc import Mapping

from tidings.channels.port import Connector, ReportSink
from tidings.core.model import CHANNELS


class Router:
    def __init__(self, routes: Mapping[str, Connector]) -> None:
        missing = [c for c in CHANNELS if c not in routes]
        if missing:
            raise ValueError(f"no connector for channel(s): {', '.join(missing)}")
        self._routes = dict(routes)

    def for_channel(self, channel: str) -> Connector:
        return self._routes[channel]

    def connectors(self) -> list[Connector]:
        unique: dict[int, Connector] = {id(c): c for c in self._routes.values()}
        return list(unique.values())

    async def start(self, reports: ReportSink) -> None:
        for c in self.connectors():
            await c.start(reports)

    async def stop(self) -> None:
        for c in self.connectors():
            await c.stop()
