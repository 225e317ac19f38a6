"""The connector port: how the dispatcher hands channel messages to a delivery channel."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Protocol, runtime_checkable

from tidings.core.dispatch import Report, SendJob, SendOutcome
from tidings.core.inbound import InboundMessage

ReportSink = Callable[[Report], None]
"""Connectors push delivery reports here, from any coroutine of the event loop."""

InboundSink = Callable[[str, Sequence[InboundMessage]], Awaitable[object]]
"""Where a connector that hears inbound messages outside HTTP (SMPP's `deliver_sm`) hands them:
`engine.callbacks.receive(connector_name, messages)`, the one entry for provider callbacks."""


@runtime_checkable
class InboundSource(Protocol):
    """A connector that receives inbound messages on its own link (not through a webhook)."""

    def bind_inbound(self, sink: InboundSink) -> None: ...


class Connector(Protocol):
    name: str

    async def start(self, reports: ReportSink) -> None: ...

    async def send(self, jobs: Sequence[SendJob]) -> list[SendOutcome]:
        """Hand over a batch; one outcome per job, in order. The job's `message_id` is the
        idempotency key: the same id sent twice must not reach the recipient twice."""
        ...

    async def reconcile(self, jobs: Sequence[SendJob]) -> dict[str, bool | None]:
        """For messages caught mid-send by a crash: True = the connector has it, False = it
        provably never got it (safe to send again), None = cannot tell."""
        ...

    async def stop(self) -> None: ...
