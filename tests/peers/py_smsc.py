"""An in-process SMPP 3.4 SMSC for tests: raw asyncio sockets plus the PDU codec of `smpplib`
(python-smpplib), a library independent of the one our connector uses (smpp34).

It plays the same magic destination prefixes as the Node peer (tests/peers/node-smsc/smsc.js)
and records every received submit_sm (with the raw short_message bytes) in `self.log`.

`hang()` plays an SMSC whose session hangs: the connections open at that moment stay open and
keep reading (every PDU is logged with `"ignored": True`) but never write another byte, not
even a pending receipt. New connections are served normally, or, with `new_too=True`, hang
from the start (the bind is never answered). When a client closes a connection the log gets
`{"ev": "closed", "hung": ..., "at": time.monotonic()}`.
"""

from __future__ import annotations

import asyncio
import contextlib
import struct
import time
import warnings
from typing import Any

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from smpplib import smpp

SYSTEM_ID = "test"
PASSWORD = "secret"
_STATES = {"DELIVRD": 2, "EXPIRED": 3, "DELETED": 4, "UNDELIV": 5, "ACCEPTD": 6, "REJECTD": 8}


class _Seq:
    """The `client` object smpplib's PDU classes take their sequence numbers from."""

    def __init__(self) -> None:
        self.sequence = 0

    def next_sequence(self) -> int:
        self.sequence = self.sequence % 0x7FFFFFFF + 1
        return self.sequence


def _reply(command: str, seq: _Seq, sequence: int, **kwargs: Any) -> Any:
    """A response PDU. (smpplib ignores a `sequence=` argument when its client already has a
    sequence number, so it is set afterwards.)"""
    pdu = smpp.make_pdu(command, client=seq, **kwargs)
    pdu.sequence = sequence
    return pdu


def _s(v: Any) -> str:
    return v.decode("latin-1") if isinstance(v, bytes) else str(v or "")


class PySmsc:
    def __init__(self, dlr_delay_s: float = 0.02) -> None:
        self.port = 0
        self.log: list[dict[str, Any]] = []
        self.dlr_delay_s = dlr_delay_s
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self._hung: set[asyncio.StreamWriter] = set()
        self._seqs: dict[asyncio.StreamWriter, _Seq] = {}
        self._hang_new = False
        self._tasks: set[asyncio.Task[None]] = set()
        self._next_id = 5000
        self._throttled: dict[str, int] = {}
        self._queue_full: set[str] = set()
        self._bound: set[asyncio.StreamWriter] = set()
        self._mo_ref = 0

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        await self.drop()
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
        for t in list(self._tasks):
            t.cancel()

    async def drop(self) -> None:
        for w in list(self._writers):
            w.transport.abort()
        self._writers.clear()

    def hang(self, *, new_too: bool = False) -> None:
        """Stop answering on every open connection (and on new ones with `new_too`), keeping
        the TCP connections open."""
        self._hung.update(self._writers)
        self._hang_new = new_too

    async def request(self, command: str) -> None:
        """Send `enquire_link` or `unbind` on every answering connection (the SMSC's side of
        the session: the client must answer)."""
        for w, seq in list(self._seqs.items()):
            if w not in self._hung and not w.is_closing():
                w.write(smpp.make_pdu(command, client=seq).generate())
                await w.drain()

    async def send_mo(
        self, source: str, destination: str, text: str, *, ucs2: bool = True, units: int = 67
    ) -> int:
        """Send a mobile-originated SMS on the first bound connection: one `deliver_sm`, or, when
        the text needs more than one part, several with an 8-bit-reference concatenation UDH
        (UCS-2, at most `units` UTF-16 code units a part; or, with `ucs2=False`, unpacked GSM-7
        septets of an ASCII text). Encoded here, not with the client's encoder. Returns the
        number of parts."""
        if ucs2:
            raw = text.encode("utf-16-be")
            size, coding = units * 2, 0x08
            whole = len(raw) <= 140
        else:
            raw = text.encode("ascii")  # letters, digits and space are the same septets in GSM-7
            size, coding = 153, 0x00
            whole = len(raw) <= 160
        chunks = [raw] if whole else [raw[i : i + size] for i in range(0, len(raw), size)]
        self._mo_ref = (self._mo_ref + 1) % 256
        writer = next(w for w in self._bound if w not in self._hung and not w.is_closing())
        seq = self._seqs[writer]
        for n, chunk in enumerate(chunks, start=1):
            udh = b"" if whole else bytes((5, 0, 3, self._mo_ref, len(chunks), n))
            pdu = smpp.make_pdu(
                "deliver_sm",
                client=seq,
                source_addr=source,
                source_addr_ton=1,
                source_addr_npi=1,
                destination_addr=destination,
                esm_class=0 if whole else 0x40,
                data_coding=coding,
                short_message=udh + chunk,
            )
            writer.write(pdu.generate())
            await writer.drain()
        self.log.append({"ev": "mo", "source": source, "parts": len(chunks)})
        return len(chunks)

    def received(self, command: str) -> list[dict[str, Any]]:
        return [e for e in self.log if e["ev"] == "pdu" and e["command"] == command]

    def ignored(self, command: str) -> list[dict[str, Any]]:
        return [e for e in self.log if e.get("ignored") and e["command"] == command]

    def closed_hung(self) -> list[dict[str, Any]]:
        return [e for e in self.log if e["ev"] == "closed" and e["hung"]]

    def submits(self) -> list[dict[str, Any]]:
        """The submit_sm PDUs received on answering connections."""
        return [
            e
            for e in self.log
            if e["ev"] == "pdu" and e["command"] == "submit_sm" and not e.get("ignored")
        ]

    def _later(self, delay: float, coro: Any) -> None:
        async def run() -> None:
            try:
                await asyncio.sleep(delay)
            except asyncio.CancelledError:
                coro.close()
                raise
            await coro

        t = asyncio.create_task(run())
        self._tasks.add(t)
        t.add_done_callback(self._tasks.discard)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._writers.add(writer)
        if self._hang_new:
            self._hung.add(writer)
        seq = _Seq()
        self._seqs[writer] = seq
        bound = False

        async def send(pdu: Any) -> None:
            if not writer.is_closing() and writer not in self._hung:
                writer.write(pdu.generate())
                await writer.drain()

        try:
            while True:
                head = await reader.readexactly(4)
                (length,) = struct.unpack(">I", head)
                data = head + await reader.readexactly(length - 4)
                pdu = smpp.parse_pdu(data, client=seq, allow_unknown_opt_params=True)
                cmd = pdu.command
                if writer in self._hung:
                    entry = {"ev": "pdu", "command": cmd, "ignored": True, "at": time.monotonic()}
                    if cmd == "submit_sm":
                        entry["destination_addr"] = _s(pdu.destination_addr)
                    self.log.append(entry)
                    continue
                if cmd != "submit_sm":
                    self.log.append({"ev": "pdu", "command": cmd})
                if cmd in ("bind_transceiver", "bind_transmitter"):
                    ok = _s(pdu.system_id) == SYSTEM_ID and _s(pdu.password) == PASSWORD
                    resp = _reply(
                        cmd + "_resp",
                        seq,
                        pdu.sequence,
                        status=0 if ok else 0x0D,
                        system_id="py-smsc",
                    )
                    await send(resp)
                    if not ok:
                        break
                    bound = True
                    self._bound.add(writer)
                elif cmd == "enquire_link":
                    await send(_reply("enquire_link_resp", seq, pdu.sequence))
                elif cmd == "unbind":
                    await send(_reply("unbind_resp", seq, pdu.sequence))
                    break
                elif cmd == "submit_sm" and bound:
                    await self._on_submit(pdu, seq, send)
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            hung = writer in self._hung
            self.log.append({"ev": "closed", "hung": hung, "at": time.monotonic()})
            self._hung.discard(writer)
            self._bound.discard(writer)
            self._seqs.pop(writer, None)
            self._writers.discard(writer)
            with contextlib.suppress(Exception):
                writer.close()

    async def _on_submit(self, pdu: Any, seq: _Seq, send: Any) -> None:
        raw: bytes = pdu.short_message or b""
        udhl = raw[0] + 1 if pdu.esm_class & 0x40 and raw else 0
        dst = _s(pdu.destination_addr)
        self.log.append(
            {
                "ev": "pdu",
                "command": "submit_sm",
                "source_addr": _s(pdu.source_addr),
                "source_addr_ton": pdu.source_addr_ton,
                "source_addr_npi": pdu.source_addr_npi,
                "destination_addr": dst,
                "dest_addr_ton": pdu.dest_addr_ton,
                "dest_addr_npi": pdu.dest_addr_npi,
                "esm_class": pdu.esm_class,
                "data_coding": pdu.data_coding,
                "registered_delivery": pdu.registered_delivery,
                "short_message_hex": raw.hex(),
                "udh_hex": raw[:udhl].hex(),
            }
        )

        def resp(status: int = 0, message_id: str = "") -> Any:
            return _reply("submit_sm_resp", seq, pdu.sequence, status=status, message_id=message_id)

        if dst.startswith("3725558"):  # throttles forever
            await send(resp(0x58))
            return
        if dst.startswith("3725551") and self._throttled.get(dst, 0) < 2:
            self._throttled[dst] = self._throttled.get(dst, 0) + 1
            await send(resp(0x58))
            return
        if dst.startswith("3725557") and dst not in self._queue_full:
            self._queue_full.add(dst)
            await send(resp(0x14))
            return
        if dst.startswith("3725552"):
            return
        if dst.startswith("3725556"):
            await send(resp(0x0B))
            return
        mid = self._next_id
        self._next_id += 1
        want = pdu.registered_delivery & 1
        if dst.startswith("3725554"):
            if want:
                await send(self._receipt(pdu, seq, str(mid), "DELIVRD", tlvs=True))
            self._later(0.1, send(resp(0, str(mid))))
            return
        hex_ids = dst.startswith("3725555")
        await send(resp(0, format(mid, "x") if hex_ids else str(mid)))
        if want:
            stat = "UNDELIV" if dst.startswith("3725553") else "DELIVRD"
            self._later(
                self.dlr_delay_s, send(self._receipt(pdu, seq, str(mid), stat, tlvs=not hex_ids))
            )

    def _receipt(self, pdu: Any, seq: _Seq, mid: str, stat: str, *, tlvs: bool) -> Any:
        now = time.strftime("%y%m%d%H%M", time.gmtime())
        dlvrd = "001" if stat == "DELIVRD" else "000"
        err = "000" if stat == "DELIVRD" else "001"
        text = (
            f"id:{mid} sub:001 dlvrd:{dlvrd} submit date:{now} done date:{now} "
            f"stat:{stat} err:{err} text:"
        )
        extra: dict[str, Any] = {}
        if tlvs:
            extra = {"receipted_message_id": mid, "message_state": _STATES[stat]}
        self.log.append({"ev": "receipt", "id": mid, "stat": stat})
        return smpp.make_pdu(
            "deliver_sm",
            client=seq,
            source_addr=_s(pdu.destination_addr),
            destination_addr=_s(pdu.source_addr),
            esm_class=0x04,
            short_message=text.encode(),
            **extra,
        )
