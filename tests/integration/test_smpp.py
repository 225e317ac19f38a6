"""The SMPP connector against two independent SMSC implementations on loopback:

- `node`: tests/peers/node-smsc/smsc.js on the npm `smpp` package (farhadi/node-smpp), a
  subprocess; it logs every received PDU as a JSON line;
- `python`: tests/peers/py_smsc.py, raw asyncio + the PDU codec of `smpplib`.

Our client runs on smpp34, so neither peer shares code with it. Both peers pick outcomes from
magic destination prefixes (see smsc.js). Every test uses its own destination numbers.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import os
import shutil
import subprocess
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import gsm0338  # noqa: F401  (registers the gsm03.38 codec)
import orjson
import pytest

from tests.peers.py_smsc import PySmsc
from tests.waiting import async_value, wait_until_async
from tidings.channels.smpp import SmppConnector, SmppSettings
from tidings.core.dispatch import Outcome, Report, SendJob
from tidings.core.inbound import InboundMessage
from tidings.core.sms_encoding import encode_sms

NODE_DIR = Path(__file__).resolve().parents[1] / "peers" / "node-smsc"
_ids = itertools.count(1)


class NodePeer:
    """The Node SMSC subprocess; stdout JSON lines are collected by a thread."""

    def __init__(self) -> None:
        self.proc = subprocess.Popen(
            ["node", "smsc.js"],
            cwd=NODE_DIR,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            bufsize=1,
        )
        assert self.proc.stdout is not None
        first = json.loads(self.proc.stdout.readline())
        assert first["ev"] == "listening"
        self.port: int = first["port"]
        self.log: list[dict[str, Any]] = []
        self._reader = threading.Thread(target=self._pump, daemon=True)
        self._reader.start()

    def _pump(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            if line.strip():
                self.log.append(json.loads(line))

    def submits(self) -> list[dict[str, Any]]:
        return [e for e in list(self.log) if e["ev"] == "pdu" and e["command"] == "submit_sm"]

    async def drop(self) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write('{"cmd":"drop"}\n')
        self.proc.stdin.flush()

    async def send_mo(
        self, source: str, destination: str, text: str, *, ucs2: bool = True, units: int = 67
    ) -> int:
        """As `PySmsc.send_mo`, but encoded by node-smpp: the text is only split into parts
        here (at code points: UCS-2 parts of at most `units` UTF-16 units, GSM parts of 153)."""
        parts: list[str] = []
        cur = ""
        size = units if ucs2 else 153
        whole = len(text.encode("utf-16-be")) <= 140 if ucs2 else len(text) <= 160
        for ch in text:
            width = len(ch.encode("utf-16-be")) // 2 if ucs2 else 1
            used = len(cur.encode("utf-16-be")) // 2 if ucs2 else len(cur)
            if not whole and used + width > size:
                parts.append(cur)
                cur = ""
            cur += ch
        parts.append(cur)
        self._mo_ref = getattr(self, "_mo_ref", 0) + 1
        cmd = {
            "cmd": "mo",
            "source": source,
            "destination": destination,
            "data_coding": 8 if ucs2 else 0,
            "ref": self._mo_ref,
            "parts": parts,
        }
        assert self.proc.stdin is not None
        self.proc.stdin.write(json.dumps(cmd) + "\n")
        self.proc.stdin.flush()
        return len(parts)

    def close(self) -> None:
        if self.proc.stdin is not None:
            self.proc.stdin.close()
        self.proc.terminate()
        self.proc.wait(5)


def _npm_ready() -> bool:
    if shutil.which("node") is None:
        return False
    if not (NODE_DIR / "node_modules" / "smpp").is_dir():
        npm = shutil.which("npm")
        if npm is None:
            return False
        cmd = "ci" if (NODE_DIR / "package-lock.json").exists() else "install"
        subprocess.run(
            [npm, cmd, "--no-audit", "--no-fund", "--loglevel=error"],
            cwd=NODE_DIR,
            check=True,
            timeout=120,
        )
    return True


@pytest.fixture(scope="session")
def node_peer() -> Iterator[NodePeer]:
    if not _npm_ready():
        if os.environ.get("CI"):
            pytest.fail("node/npm are needed for the SMPP peer tests")
        pytest.skip("node/npm not available")
    peer = NodePeer()
    yield peer
    peer.close()


@pytest.fixture(params=["node", "python"])
async def peer(request: pytest.FixtureRequest) -> AsyncIterator[Any]:
    if request.param == "node":
        yield request.getfixturevalue("node_peer")
        return
    p = PySmsc()
    await p.start()
    yield p
    await p.stop()


@dataclass
class Harness:
    conn: SmppConnector
    reports: list[Report]

    def of(self, message_id: str) -> list[str]:
        return [r.status for r in self.reports if r.message_id == message_id]


def _now_us() -> int:
    return time.time_ns() // 1000


@pytest.fixture
async def make_conn(peer: Any) -> AsyncIterator[Callable[..., Any]]:
    conns: list[SmppConnector] = []

    async def make(**kw: Any) -> Harness:
        settings = SmppSettings(
            host="127.0.0.1", port=peer.port, system_id="test", password="secret", **kw
        )
        conn = SmppConnector(settings, _now_us)
        reports: list[Report] = []
        await conn.start(reports.append)
        conns.append(conn)
        assert await conn.wait_bound(5)
        return Harness(conn, reports)

    yield make
    for c in conns:
        await c.stop()


def job(to: str, text: str, sender: str = "Tidings", **content: Any) -> SendJob:
    n = next(_ids)
    return SendJob(
        timer_id=n,
        lease_token=1,
        due_us=0,
        omnimessage_id=f"omni-{n}",
        account_id=1,
        to="+" + to,
        message_id=f"msg-{n}-{to}",
        position=0,
        channel="sms",
        sender=sender,
        validity_s=600,
        content=orjson.dumps({"text": text, **content}).decode(),
    )


def dst(prefix: str = "3725500") -> str:
    return f"{prefix}{next(_ids):04d}"


async def until(cond: Callable[[], bool], within: float = 5.0) -> None:
    await wait_until_async(async_value(cond), "the condition", within)


def submits_to(peer: Any, number: str) -> list[dict[str, Any]]:
    return [e for e in peer.submits() if e["destination_addr"] == number]


async def logged(peer: Any, number: str, n: int) -> list[dict[str, Any]]:
    """The submit_sm PDUs the peer logged for `number`, once there are `n` of them (the Node
    peer's log is read by a thread, so it may lag the responses a little)."""
    await until(lambda: len(submits_to(peer, number)) >= n)
    await asyncio.sleep(0.05)
    found = submits_to(peer, number)
    assert len(found) == n
    return found


async def test_success_with_receipt_alnum_sender(peer: Any, make_conn: Any) -> None:
    h = await make_conn()
    to = dst()
    [out] = await h.conn.send([job(to, "Hello {world} €5")])
    assert out.outcome == Outcome.ACCEPTED and out.parts_count == 1 and out.provider_ref
    await until(lambda: "DELIVRD" in h.of(out.job.message_id))
    assert h.of(out.job.message_id) == ["ACK", "DELIVRD"]
    final = h.reports[-1]
    assert final.err == 0 and final.parts_count == 1
    [pdu] = await logged(peer, to, 1)
    assert (pdu["source_addr"], pdu["source_addr_ton"], pdu["source_addr_npi"]) == ("Tidings", 5, 0)
    assert (pdu["destination_addr"], pdu["dest_addr_ton"], pdu["dest_addr_npi"]) == (to, 1, 1)
    assert pdu["registered_delivery"] == 1 and pdu["data_coding"] == 0 and pdu["esm_class"] == 0
    assert bytes.fromhex(pdu["short_message_hex"]) == b"Hello \x1b(world\x1b) \x1be5"
    if "text" in pdu:  # node-smpp's own GSM decoder agrees
        assert pdu["text"] == "Hello {world} €5"


@pytest.mark.parametrize(
    ("sender", "addr", "ton", "npi"),
    [
        ("+37255501234", "37255501234", 1, 1),
        ("37255501234", "37255501234", 1, 1),
        ("1234", "1234", 3, 0),
    ],
)
async def test_numeric_sender_ton_npi(
    peer: Any, make_conn: Any, sender: str, addr: str, ton: int, npi: int
) -> None:
    h = await make_conn()
    to = dst()
    [out] = await h.conn.send([job(to, "hi", sender=sender)])
    assert out.outcome == Outcome.ACCEPTED
    [pdu] = await logged(peer, to, 1)
    assert (pdu["source_addr"], pdu["source_addr_ton"], pdu["source_addr_npi"]) == (addr, ton, npi)


async def test_long_gsm_three_parts(peer: Any, make_conn: Any) -> None:
    h = await make_conn()
    to = dst()
    text = "".join(f"{i:03d} part test [x] " for i in range(22))[:400]
    assert encode_sms(text).segments == 3
    [out] = await h.conn.send([job(to, text)])
    assert out.outcome == Outcome.ACCEPTED and out.parts_count == 3
    assert out.provider_ref is not None and len(out.provider_ref.split(",")) == 3
    await until(lambda: "DELIVRD" in h.of(out.job.message_id))
    assert h.of(out.job.message_id) == ["ACK", "DELIVRD"]  # one final report for 3 receipts
    assert h.reports[-1].parts_count == 3
    pdus = await logged(peer, to, 3)
    udhs = [bytes.fromhex(p["udh_hex"]) for p in pdus]
    ref = udhs[0][3]
    assert udhs == [bytes([5, 0, 3, ref, 3, i]) for i in (1, 2, 3)]
    assert all(p["esm_class"] == 0x40 and p["data_coding"] == 0 for p in pdus)
    bodies = [bytes.fromhex(p["short_message_hex"])[6:] for p in pdus]
    assert [len(b) for b in bodies[:2]] == [153, 153]
    assert b"".join(bodies).decode("gsm03.38") == text


async def test_ucs2_with_emoji(peer: Any, make_conn: Any) -> None:
    h = await make_conn()
    to = dst()
    text = "Привет 😀" * 10  # 90 UTF-16 units -> 2 parts
    [out] = await h.conn.send([job(to, text)])
    assert out.outcome == Outcome.ACCEPTED and out.parts_count == 2
    pdus = await logged(peer, to, 2)
    assert all(p["data_coding"] == 8 and p["esm_class"] == 0x40 for p in pdus)
    bodies = [bytes.fromhex(p["short_message_hex"])[6:] for p in pdus]
    for b in bodies:
        b.decode("utf-16-be")  # each part decodes alone: no split surrogate pair
    assert b"".join(bodies).decode("utf-16-be") == text
    await until(lambda: "DELIVRD" in h.of(out.job.message_id))


async def test_throttling_slows_down_and_succeeds(peer: Any, make_conn: Any) -> None:
    h = await make_conn()
    a, b = dst("3725551"), dst("3725557")
    outs = await h.conn.send([job(a, "throttled"), job(b, "queue full")])
    assert [o.outcome for o in outs] == [Outcome.ACCEPTED, Outcome.ACCEPTED]
    await logged(peer, a, 3)  # 0x58, 0x58, ok
    await logged(peer, b, 2)  # 0x14, ok
    await until(lambda: all("DELIVRD" in h.of(o.job.message_id) for o in outs))


async def test_no_answer_is_unknown_and_not_resent(peer: Any, make_conn: Any) -> None:
    h = await make_conn(response_timeout_s=0.5)
    to = dst("3725552")
    [out] = await h.conn.send([job(to, "anyone?")])
    assert out.outcome == Outcome.UNKNOWN
    await asyncio.sleep(0.2)
    await logged(peer, to, 1)
    # Nothing at all was heard from the peer since that submit: the link is given up and
    # bound again, and the next message goes through the new one.
    [ok] = await h.conn.send([job(dst(), "next one")])
    assert ok.outcome == Outcome.ACCEPTED
    assert h.conn.binds == 2


async def test_lost_answer_on_a_link_that_answers_keeps_the_link(peer: Any, make_conn: Any) -> None:
    # Probes far more often than the submit's timeout: their answers prove the peer alive.
    h = await make_conn(response_timeout_s=0.5, enquire_link_s=0.1)
    to = dst("3725552")
    [out] = await h.conn.send([job(to, "lost")])
    assert out.outcome == Outcome.UNKNOWN
    [ok] = await h.conn.send([job(dst(), "same link")])
    assert ok.outcome == Outcome.ACCEPTED
    assert h.conn.binds == 1 and h.conn.dead_links == 0
    await logged(peer, to, 1)


async def test_undeliverable_receipt(peer: Any, make_conn: Any) -> None:
    h = await make_conn()
    [out] = await h.conn.send([job(dst("3725553"), "nobody home")])
    assert out.outcome == Outcome.ACCEPTED
    await until(lambda: "UNDELIV" in h.of(out.job.message_id))
    final = h.reports[-1]
    assert (final.status, final.err, final.error) == ("UNDELIV", 1, "Delivery failure")


async def test_receipt_before_submit_resp(peer: Any, make_conn: Any) -> None:
    h = await make_conn()
    to = dst("3725554")
    [out] = await h.conn.send([job(to, "fast receipt")])
    assert out.outcome == Outcome.ACCEPTED
    await until(lambda: "DELIVRD" in h.of(out.job.message_id))
    assert h.of(out.job.message_id) == ["ACK", "DELIVRD"]


async def test_hex_resp_id_decimal_receipt(peer: Any, make_conn: Any) -> None:
    h = await make_conn()
    [out] = await h.conn.send([job(dst("3725555"), "hex ids")])
    assert out.outcome == Outcome.ACCEPTED and out.provider_ref is not None
    int(out.provider_ref, 16)
    await until(lambda: "DELIVRD" in h.of(out.job.message_id))


async def test_invalid_destination_is_rejected(peer: Any, make_conn: Any) -> None:
    h = await make_conn()
    [out] = await h.conn.send([job(dst("3725556"), "x")])
    assert out.outcome == Outcome.REJECTED and out.err == 3


async def test_reconnect_after_drop(peer: Any, make_conn: Any) -> None:
    h = await make_conn()
    binds = h.conn.binds
    await peer.drop()
    await until(lambda: h.conn.binds > binds, within=10)
    [out] = await h.conn.send([job(dst(), "after reconnect")])
    assert out.outcome == Outcome.ACCEPTED
    await until(lambda: "DELIVRD" in h.of(out.job.message_id))


async def test_many_in_window(peer: Any, make_conn: Any) -> None:
    h = await make_conn(window=4, tps=500.0)
    jobs = [job(dst(), f"bulk {i}") for i in range(40)]
    outs = await h.conn.send(jobs)
    assert [o.job for o in outs] == jobs
    assert all(o.outcome == Outcome.ACCEPTED for o in outs)
    await until(lambda: all("DELIVRD" in h.of(j.message_id) for j in jobs))


async def test_no_bind_is_retry() -> None:
    settings = SmppSettings(
        host="127.0.0.1", port=1, system_id="test", password="secret", response_timeout_s=0.3
    )
    conn = SmppConnector(settings, _now_us)
    await conn.start(lambda r: None)
    try:
        before = _now_us()
        [out] = await conn.send([job(dst(), "nobody listening")])
        assert out.outcome == Outcome.RETRY and out.retry_at_us is not None
        assert out.retry_at_us > before
    finally:
        await conn.stop()


async def test_multipart_final_only_when_all_parts_final(peer: Any, make_conn: Any) -> None:
    h = await make_conn()
    [out] = await h.conn.send([job(dst("3725553"), "y" * 200)])
    assert out.outcome == Outcome.ACCEPTED and out.parts_count == 2
    await until(lambda: "UNDELIV" in h.of(out.job.message_id))
    await asyncio.sleep(0.1)
    assert h.of(out.job.message_id) == ["ACK", "UNDELIV"]  # one final report for two receipts
    assert h.reports[-1].parts_count == 2


# ---- liveness: an SMSC that keeps the TCP connection open but stops answering ----

PROBE_S, ANSWER_S = 0.2, 0.3  # enquire_link_s, response_timeout_s


@dataclass
class Hung:
    peer: PySmsc
    conn: SmppConnector
    reports: list[Report]
    setup_s: float  # connect + bind + one submit round trip, as measured on this machine now


@pytest.fixture
async def hung_setup() -> AsyncIterator[Callable[..., Any]]:
    made: list[Hung] = []

    async def make(enquire_link_s: float = PROBE_S, warm_up: bool = True) -> Hung:
        peer = PySmsc()
        await peer.start()
        started = time.monotonic()
        settings = SmppSettings(
            host="127.0.0.1",
            port=peer.port,
            system_id="test",
            password="secret",
            enquire_link_s=enquire_link_s,
            response_timeout_s=ANSWER_S,
        )
        reports: list[Report] = []
        conn = SmppConnector(settings, _now_us)
        await conn.start(reports.append)
        h = Hung(peer, conn, reports, 0.0)
        made.append(h)
        assert await conn.wait_bound(5)
        if warm_up:
            [out] = await conn.send([job(dst(), "warm-up")])
            assert out.outcome == Outcome.ACCEPTED
        h.setup_s = time.monotonic() - started
        return h

    yield make
    for h in made:
        await h.conn.stop()
        await h.peer.stop()


async def test_hung_session_is_noticed_and_the_message_waits_for_the_rebind(
    hung_setup: Any,
) -> None:
    h = await hung_setup()
    binds = h.conn.binds
    hung_at = time.monotonic()
    h.peer.hang()
    await until(lambda: bool(h.peer.ignored("enquire_link")))  # a probe went unanswered
    to = dst()
    [out] = await h.conn.send([job(to, "sent after the SMSC went silent")])
    assert out.outcome == Outcome.ACCEPTED
    [closed] = h.peer.closed_hung()  # the connector closed the silent session itself...
    noticed_s = closed["at"] - hung_at
    # The next probe is due within enquire_link_s, its answer within response_timeout_s; the
    # margin is for timers and sockets, scaled by how long a bind and a submit took just now.
    assert noticed_s <= PROBE_S + ANSWER_S + 10 * h.setup_s, (noticed_s, h.setup_s)
    assert h.conn.binds == binds + 1  # ...and bound again
    assert h.peer.ignored("submit_sm") == []  # nothing was written into the silent session
    assert len(submits_to(h.peer, to)) == 1
    mid = out.job.message_id
    await until(lambda: "DELIVRD" in [r.status for r in h.reports if r.message_id == mid])


async def test_hung_session_that_does_not_come_back_is_retry_not_unknown(hung_setup: Any) -> None:
    h = await hung_setup()
    h.peer.hang(new_too=True)  # new binds are never answered either
    await until(lambda: bool(h.peer.ignored("enquire_link")))
    to = dst()
    before = _now_us()
    [out] = await h.conn.send([job(to, "nobody answers")])
    assert out.outcome == Outcome.RETRY and out.retry_at_us is not None
    assert out.retry_at_us > before
    assert h.peer.ignored("submit_sm") == [] and submits_to(h.peer, to) == []  # it never left
    assert h.peer.closed_hung()  # the silent session was given up
    await until(lambda: bool(h.peer.ignored("bind_transceiver")))  # and a re-bind was tried


async def test_a_batch_meeting_a_silent_smsc_waits_once_not_window_by_window(
    hung_setup: Any,
) -> None:
    h = await hung_setup()  # window 10
    h.peer.hang(new_too=True)
    await until(lambda: bool(h.peer.ignored("enquire_link")))
    started = time.monotonic()
    outs = await h.conn.send([job(dst(), f"batch {i}") for i in range(30)])
    elapsed = time.monotonic() - started
    assert {o.outcome for o in outs} == {Outcome.RETRY}
    assert h.peer.ignored("submit_sm") == []
    # One wait for all: the verdict (<= response_timeout_s) and one re-bind that is not
    # answered (response_timeout_s). Window by window it would be at least three times that.
    assert elapsed < 3 * ANSWER_S + 10 * h.setup_s, (elapsed, h.setup_s)


async def test_idle_link_is_probed_before_a_submit(hung_setup: Any) -> None:
    # enquire_link_s far above the test's length: only the submit can make the connector probe.
    h = await hung_setup(enquire_link_s=30.0, warm_up=False)
    bound_at = time.monotonic()
    await asyncio.sleep(ANSWER_S)  # the link has now not been heard from for response_timeout_s
    assert time.monotonic() - bound_at >= ANSWER_S
    h.peer.hang()
    to = dst()
    [out] = await h.conn.send([job(to, "after a quiet spell")])
    assert out.outcome == Outcome.ACCEPTED
    assert len(h.peer.ignored("enquire_link")) == 1  # probed first, and the probe went unanswered
    assert h.peer.ignored("submit_sm") == []
    assert h.conn.binds == 2 and len(submits_to(h.peer, to)) == 1


async def test_the_smsc_probes_and_unbinds_are_answered(hung_setup: Any) -> None:
    h = await hung_setup()
    await h.peer.request("enquire_link")
    await until(lambda: bool(h.peer.received("enquire_link_resp")))
    await h.peer.request("unbind")
    await until(lambda: bool(h.peer.received("unbind_resp")))
    await until(lambda: h.conn.binds == 2)  # the SMSC ended the session: bound again
    [out] = await h.conn.send([job(dst(), "after the SMSC's unbind")])
    assert out.outcome == Outcome.ACCEPTED


async def test_mobile_originated_messages(peer: Any, make_conn: Any) -> None:
    """Replies from phones (deliver_sm that are not receipts): one UCS-2 part, a UCS-2 message
    in several concatenated parts (surrogate pairs in it), a GSM-7 message in two."""
    h = await make_conn()
    got: list[InboundMessage] = []

    async def sink(connector: str, messages: Sequence[InboundMessage]) -> None:
        got.extend(messages)

    h.conn.bind_inbound(sink)
    short = "Jah, tulen! 😀"
    long = "Привет! Это длинный ответ, который не помещается в одно сообщение 🎉. " * 3
    gsm = "A reply in the GSM alphabet, long enough for two parts. " * 4
    senders = [dst("3725599"), dst("3725599"), dst("3725599")]
    assert await peer.send_mo(senders[0], "Tidings", short) == 1
    assert await peer.send_mo(senders[1], "Tidings", long) >= 3
    assert await peer.send_mo(senders[2], "Tidings", gsm, ucs2=False) == 2
    await until(lambda: len(got) == 3)
    by_sender = {m.sender: m for m in got}
    assert [by_sender["+" + s].text for s in senders] == [short, long, gsm]
    assert all(m.channel == "sms" and m.recipient == "Tidings" for m in got)
    assert len({m.key for m in got}) == 3
