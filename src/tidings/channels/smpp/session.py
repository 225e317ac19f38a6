"""`SmppSession`: one SMPP 3.4 transceiver bind over asyncio streams (an `SmppLink`).

The PDUs with many fields (submit_sm out, deliver_sm in, with their TLVs) are encoded and
decoded by the codec of `smpp34`; the few fixed-shape PDUs of the session itself (bind,
enquire_link, unbind and the responses) are packed here. smpp34's own client session is not
used: it runs its own `enquire_link` timer (every 30 s, not settable from Python) and tells its
caller nothing about what it hears, so a peer that keeps the TCP connection open but stops
answering went unnoticed for up to a minute. Here every PDU heard and every request written is
reported to the `LinkListener`, and the connector decides when to probe and when to give up.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import struct

import smpp34

from tidings.channels.smpp.link import (
    BindError,
    DeliverEvent,
    LinkError,
    LinkListener,
    NotSent,
    SubmitRequest,
    SubmitResult,
)
from tidings.channels.smpp.settings import SmppSettings

log = logging.getLogger("tidings.smpp")

HEADER = struct.Struct(">IIII")  # command_length, command_id, command_status, sequence_number
MAX_PDU = 65_536
RESPONSE = 0x80000000
GENERIC_NACK = 0x80000000
BIND_TRANSCEIVER = 0x00000009
SUBMIT_SM = 0x00000004
DELIVER_SM = 0x00000005
DELIVER_SM_RESP = 0x80000005
UNBIND = 0x00000006
UNBIND_RESP = 0x80000006
ENQUIRE_LINK = 0x00000015
ENQUIRE_LINK_RESP = 0x80000015
ALERT_NOTIFICATION = 0x00000102
ESME_RINVCMDID = 0x03
ESME_RSYSERR = 0x08
INTERFACE_VERSION = 0x34
UNBIND_WAIT_S = 5.0  # at most this long (or the response timeout) for an unbind_resp


class ProtocolError(Exception):
    """The peer sent something that is not an SMPP PDU."""


def pack(command_id: int, sequence: int, body: bytes = b"", status: int = 0) -> bytes:
    return HEADER.pack(HEADER.size + len(body), command_id, status, sequence) + body


def cstring(value: str, size: int, name: str) -> bytes:
    """A C-octet string of at most `size` octets with its NUL (SMPP 3.4 §3.1)."""
    raw = value.encode("latin-1")
    if len(raw) >= size:
        raise BindError(f"{name} is longer than {size - 1} characters")
    return raw + b"\x00"


def first_cstring(body: bytes) -> str:
    return body.split(b"\x00", 1)[0].decode("latin-1")


async def read_pdu(reader: asyncio.StreamReader) -> tuple[int, int, int, bytes]:
    """(command_id, command_status, sequence_number, the whole PDU)."""
    head = await reader.readexactly(HEADER.size)
    length, command_id, status, sequence = HEADER.unpack(head)
    if not HEADER.size <= length <= MAX_PDU:
        raise ProtocolError(f"command_length {length}")
    body = await reader.readexactly(length - HEADER.size) if length > HEADER.size else b""
    return command_id, status, sequence, head + body


class SmppSession:
    def __init__(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        listener: LinkListener,
        settings: SmppSettings,
    ) -> None:
        self._reader = reader
        self._writer = writer
        self._listener = listener
        self._settings = settings
        self._seq = 1  # the bind's
        self._pending: dict[int, asyncio.Future[tuple[int, bytes]]] = {}
        self._events: asyncio.Queue[DeliverEvent | None] = asyncio.Queue()
        self._ended = False
        self._reading = asyncio.create_task(self._read_loop(), name="smpp-session-read")

    @classmethod
    async def open(cls, settings: SmppSettings, listener: LinkListener) -> SmppSession:
        """Connect and bind as a transceiver, each step within the response timeout (<= 10 s)."""
        limit = min(settings.response_timeout_s, 10.0)
        body = (
            cstring(settings.system_id, 16, "system_id")
            + cstring(settings.password, 9, "password")
            + cstring(settings.system_type, 13, "system_type")
            + bytes([INTERFACE_VERSION, 0, 0])  # addr_ton, addr_npi
            + b"\x00"  # address_range
        )
        try:
            async with asyncio.timeout(limit):
                reader, writer = await asyncio.open_connection(settings.host, settings.port)
        except (OSError, TimeoutError) as exc:
            raise BindError(f"connect: {str(exc) or 'timed out'}") from exc
        try:
            writer.write(pack(BIND_TRANSCEIVER, 1, body))
            async with asyncio.timeout(limit):
                while True:
                    command_id, status, sequence, _ = await read_pdu(reader)
                    if command_id & RESPONSE and sequence == 1:
                        break
        except (OSError, TimeoutError, asyncio.IncompleteReadError, ProtocolError) as exc:
            writer.transport.abort()
            raise BindError(f"bind: {str(exc) or 'no bind_transceiver_resp'}") from exc
        except BaseException:  # cancelled while binding: leave no socket behind
            writer.transport.abort()
            raise
        if status != 0:
            writer.transport.abort()
            raise BindError(f"bind refused: command_status 0x{status:08X}")
        return cls(reader, writer, listener, settings)

    # ---- requests ----

    def _next_seq(self) -> int:
        self._seq = self._seq % 0x7FFFFFFF + 1
        return self._seq

    def _write(self, data: bytes) -> None:
        if self._ended or self._writer.is_closing():
            raise NotSent("session ended")
        self._writer.write(data)

    async def submit(self, req: SubmitRequest) -> SubmitResult:
        seq = self._next_seq()
        try:
            data = smpp34.SubmitSm(
                req.source_addr,
                req.destination_addr,
                req.short_message,
                source_addr_ton=req.source_addr_ton,
                source_addr_npi=req.source_addr_npi,
                dest_addr_ton=req.dest_addr_ton,
                dest_addr_npi=req.dest_addr_npi,
                esm_class=req.esm_class,
                data_coding=req.data_coding,
                registered_delivery=req.registered_delivery,
                validity_period=req.validity_period,
                sequence_number=seq,
            ).encode()
        except smpp34.SmppError as exc:
            raise ValueError(str(exc)) from exc
        answer: asyncio.Future[tuple[int, bytes]] = asyncio.get_running_loop().create_future()
        self._write(data)
        self._pending[seq] = answer
        self._listener.wrote(probe=False)
        try:
            status, body = await answer
        finally:
            self._pending.pop(seq, None)
        return SubmitResult(status, first_cstring(body) or None)

    def enquire_link(self) -> None:
        self._write(pack(ENQUIRE_LINK, self._next_seq()))
        self._listener.wrote(probe=True)

    # ---- what the peer sends ----

    async def _read_loop(self) -> None:
        try:
            while True:
                command_id, status, seq, data = await read_pdu(self._reader)
                self._listener.heard()
                if command_id & RESPONSE:  # incl. generic_nack: the request failed with `status`
                    answer = self._pending.pop(seq, None)
                    if answer is not None and not answer.done():
                        answer.set_result((status, data[HEADER.size :]))
                elif command_id == ENQUIRE_LINK:
                    self._write(pack(ENQUIRE_LINK_RESP, seq))
                elif command_id == DELIVER_SM:
                    self._on_deliver(seq, data)
                elif command_id == UNBIND:
                    self._write(pack(UNBIND_RESP, seq))
                    return
                elif command_id != ALERT_NOTIFICATION:
                    self._write(pack(GENERIC_NACK, seq, status=ESME_RINVCMDID))
        except (asyncio.IncompleteReadError, OSError, ProtocolError, NotSent) as exc:
            log.debug("action=smpp_session_read_end error=%r", exc)
        finally:
            self._end()

    def _on_deliver(self, seq: int, data: bytes) -> None:
        try:
            pdu = smpp34.decode(data)
        except (smpp34.SmppError, ValueError) as exc:
            log.warning("action=smpp_deliver_undecodable error=%s", exc)
            self._write(pack(DELIVER_SM_RESP, seq, b"\x00", status=ESME_RSYSERR))
            return
        if isinstance(pdu, smpp34.DeliverSm):
            self._events.put_nowait(
                DeliverEvent(
                    pdu.esm_class,
                    pdu.source_addr,
                    pdu.destination_addr,
                    pdu.data_coding,
                    pdu.short_message,
                    {t.tag: t.value for t in pdu.tlvs},
                )
            )
        self._write(pack(DELIVER_SM_RESP, seq, b"\x00"))

    async def next_event(self) -> DeliverEvent | None:
        if self._ended and self._events.empty():
            return None
        return await self._events.get()

    # ---- ending ----

    def _end(self, *, graceful: bool = True) -> None:
        """Mark the session over: pending requests become unknown, readers get None. A graceful
        end lets written bytes (an unbind_resp) go out first; an abort drops them."""
        if self._ended:
            return
        self._ended = True
        for answer in self._pending.values():
            if not answer.done():
                answer.set_exception(LinkError("session ended before the response"))
        self._pending.clear()
        self._events.put_nowait(None)
        if graceful:
            self._writer.close()
        else:
            self._writer.transport.abort()

    def abort(self) -> None:
        self._end(graceful=False)
        self._reading.cancel()

    async def close(self) -> None:
        if not self._ended:
            seq = self._next_seq()
            answer: asyncio.Future[tuple[int, bytes]] = asyncio.get_running_loop().create_future()
            with contextlib.suppress(NotSent):
                self._write(pack(UNBIND, seq))
                self._pending[seq] = answer
                with contextlib.suppress(TimeoutError, LinkError):
                    async with asyncio.timeout(
                        min(self._settings.response_timeout_s, UNBIND_WAIT_S)
                    ):
                        await answer
                self._pending.pop(seq, None)
        self.abort()
        await asyncio.wait([self._reading])


async def open_session(settings: SmppSettings, listener: LinkListener) -> SmppSession:
    return await SmppSession.open(settings, listener)
