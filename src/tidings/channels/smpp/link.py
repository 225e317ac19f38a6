"""`SmppLink`: the small interface the connector needs from one bound SMPP session.

Only session mechanics live behind it (TCP, PDU framing, sequence numbers, answering the
peer's `enquire_link`/`deliver_sm`/`unbind`). Everything that matters commercially (encoding,
window, TPS, throttling, receipts, liveness, reconnects) is in the connector, so the session
can be replaced by writing one more class with these methods. The one in use is
`session.SmppSession`.

A link tells its `LinkListener` about every PDU it hears and every request it writes: that is
all the connector needs to judge whether the peer is still answering (see `liveness.py`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

from tidings.channels.smpp.settings import SmppSettings

TLV_RECEIPTED_MESSAGE_ID = 0x001E
TLV_MESSAGE_STATE = 0x0427
TLV_NETWORK_ERROR_CODE = 0x0423


class LinkError(Exception):
    """The request's fate is unknown: it was written and may or may not have reached the SMSC."""


class NotSent(Exception):
    """The request was never written (the session had ended): it certainly never left."""


class BindError(Exception):
    """Could not connect or bind."""


@dataclass(frozen=True, slots=True)
class SubmitRequest:
    destination_addr: str
    short_message: bytes
    source_addr: str
    source_addr_ton: int
    source_addr_npi: int
    dest_addr_ton: int = 1
    dest_addr_npi: int = 1
    esm_class: int = 0
    data_coding: int = 0
    registered_delivery: int = 1
    validity_period: str = ""


@dataclass(frozen=True, slots=True)
class SubmitResult:
    command_status: int
    message_id: str | None


@dataclass(frozen=True, slots=True)
class DeliverEvent:
    esm_class: int
    source_addr: str
    destination_addr: str
    data_coding: int
    short_message: bytes
    tlvs: dict[int, bytes] = field(default_factory=dict)


class LinkListener(Protocol):
    def heard(self) -> None:
        """A PDU (any PDU) arrived from the peer."""

    def wrote(self, *, probe: bool) -> None:
        """A request that expects a response was written (`probe`: an enquire_link)."""


class SmppLink(Protocol):
    async def submit(self, req: SubmitRequest) -> SubmitResult:
        """Write a submit_sm and await its response. Raise `NotSent` when it was not written,
        `LinkError` when it was but its outcome is unknown (the session ended first). Does not
        time out by itself: the caller bounds the wait."""
        ...

    def enquire_link(self) -> None:
        """Write an enquire_link (its response reaches the listener as `heard`); `NotSent` when
        the session has ended."""
        ...

    async def next_event(self) -> DeliverEvent | None:
        """The next deliver_sm from the SMSC (already acknowledged); None once the session ended."""
        ...

    async def close(self) -> None:
        """Unbind (bounded by the response timeout) and close."""
        ...

    def abort(self) -> None:
        """Close at once, without an unbind: for a peer that no longer answers."""
        ...


class LinkFactory(Protocol):
    async def __call__(self, settings: SmppSettings, listener: LinkListener) -> SmppLink: ...
