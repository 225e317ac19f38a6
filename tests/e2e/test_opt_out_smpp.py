"""Keyword opt-out end to end (issue 13): `STOP` from the SMPP peer lists the number and sends one
confirmation (a repeated STOP sends none), the next message to that number is not sent
(REJECTD err 8); `START` unlists it, is confirmed, and sending works again. Each keyword is
forwarded to the inbound URL marked as such."""

from __future__ import annotations

import asyncio
import signal
from pathlib import Path
from typing import Any

import httpx

from tests.e2e.receiver import Receiver
from tests.e2e.server import Server, run_cli
from tests.e2e.test_inbound import CUSTOMER, receiver, smsc  # noqa: F401 (fixture)
from tests.peers.py_smsc import PASSWORD, SYSTEM_ID, PySmsc
from tests.waiting import wait_until
from tidings.core.opt_out import DEFAULT_OPT_IN_REPLY, DEFAULT_OPT_OUT_REPLY

CONFIG = """
[connectors.smsc]
type = "smpp"
host = "127.0.0.1"
port = {port}
system_id = "{system_id}"
password = "{password}"

[routes]
sms = "smsc"
"""


def _submits_to(peer: PySmsc, number: str) -> list[dict[str, Any]]:
    return [s for s in peer.submits() if s["destination_addr"].lstrip("+") == number.lstrip("+")]


def _text(submit: dict[str, Any]) -> str:
    raw = bytes.fromhex(submit["short_message_hex"])
    # UCS-2, or unpacked GSM-7, whose letters, digits, space and full stop are ASCII's.
    return raw.decode("utf-16-be") if submit["data_coding"] == 8 else raw.decode("latin-1")


def _statuses(c: httpx.Client, omni: str) -> list[tuple[str, int | None]]:
    body = c.get(f"/v1/omnimessage/{omni}/status").json()
    return [(s["status"], s.get("err")) for s in body["statuses"]]


def _send(c: httpx.Client, text: str) -> str:
    r = c.post(
        "/v1/omnimessage", json={"to": CUSTOMER, "messages": [{"channel": "sms", "text": text}]}
    )
    assert r.status_code == 201, r.text
    return str(r.json()["omnimessage_id"])


def test_stop_and_start_from_the_smpp_peer(tmp_path: Path, receiver: Receiver) -> None:  # noqa: F811
    database = f"sqlite:///{tmp_path / 'tidings.db'}"
    run_cli(
        "accounts", "add", "alice", "--password", "alice-secret-pw", "--sender", "AliceCo",
        "--inbound-url", receiver.url, database=database,
    )  # fmt: skip
    with smsc() as (peer, loop):
        config = tmp_path / "tidings.toml"
        config.write_text(CONFIG.format(port=peer.port, system_id=SYSTEM_ID, password=PASSWORD))
        env = {"TIDINGS_CONFIG": str(config), "TIDINGS_WEBHOOK_ALLOW": "127.0.0.0/8"}
        srv = Server(tmp_path, database, env=env)
        srv.start()

        def mo(text: str) -> None:
            asyncio.run_coroutine_threadsafe(
                peer.send_mo(CUSTOMER[1:], "AliceCo", text), loop
            ).result(10)

        try:
            with srv.client() as c:
                first = _send(c, "Your appointment is tomorrow at 10.")
                wait_until(
                    lambda: _statuses(c, first) == [("DELIVRD", 0)], "the first SMS delivered"
                )
                assert len(_submits_to(peer, CUSTOMER)) == 1

                mo("Stop.")  # punctuation and case do not matter
                got = receiver.wait_for(1)
                assert (got[0].json["text"], got[0].json["opt_out"]) == ("Stop.", "out")
                wait_until(lambda: len(_submits_to(peer, CUSTOMER)) == 2, "the confirmation sent")
                assert DEFAULT_OPT_OUT_REPLY.split(".")[0] in _text(_submits_to(peer, CUSTOMER)[1])

                mo("STOP")  # again: forwarded, marked, but no second confirmation
                got = receiver.wait_for(2)
                assert got[1].json["opt_out"] == "out"
                blocked = _send(c, "A reminder nobody should get.")
                wait_until(
                    lambda: _statuses(c, blocked) == [("REJECTD", 8)], "the listed number refused"
                )
                assert len(_submits_to(peer, CUSTOMER)) == 2  # neither a confirmation nor the send
                r = c.get(f"/v1/phonebook/blacklist/{CUSTOMER}")
                assert r.status_code == 204, r.text

                mo("start")
                got = receiver.wait_for(3)
                assert got[2].json["opt_out"] == "in"
                wait_until(lambda: len(_submits_to(peer, CUSTOMER)) == 3, "the opt-in confirmation")
                assert DEFAULT_OPT_IN_REPLY.split(".")[0] in _text(_submits_to(peer, CUSTOMER)[2])
                again = _send(c, "Welcome back.")
                wait_until(lambda: _statuses(c, again) == [("DELIVRD", 0)], "sending works again")
                assert len(_submits_to(peer, CUSTOMER)) == 4
                assert c.get(f"/v1/phonebook/blacklist/{CUSTOMER}").status_code == 404
        finally:
            srv.stop(signal.SIGTERM)
