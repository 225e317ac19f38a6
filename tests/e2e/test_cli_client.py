"""`tidings send | status | cancel | inbox` as a subprocess against the real server.

Tests that send messages get a fresh `server`; those that only look at refusals share one."""

from __future__ import annotations

import json
import os
import queue
import signal
import subprocess
import threading
import time
from typing import Any

import pytest

from tests.e2e.server import TIDINGS, Server, free_port
from tests.waiting import wait_until

TO = "+37251234567"


def _env(server: Server, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TIDINGS_")}
    env.update(
        TIDINGS_URL=server.url,
        TIDINGS_USERNAME=server.username,
        TIDINGS_PASSWORD=server.password,
    )
    env.update(extra)
    return env


def cli(server: Server, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*TIDINGS, *args],
        capture_output=True,
        text=True,
        timeout=60,
        env=_env(server, **env),
    )


def ok(server: Server, *args: str) -> str:
    done = cli(server, *args)
    assert done.returncode == 0, (done.stdout, done.stderr)
    return done.stdout


def ok_json(server: Server, *args: str) -> Any:
    out = ok(server, *args, "--json")
    assert out.count("\n") == 1  # one JSON document, on one line
    return json.loads(out)


def wait_status(server: Server, omni_id: str, want: str, timeout: float = 15) -> None:
    with server.client() as http:
        wait_until(
            lambda: any(
                s["status"] == want
                for s in http.get(f"/v1/omnimessage/{omni_id}/status").json()["statuses"]
            ),
            f"{omni_id} to reach {want}",
            timeout,
        )


def test_send_sms_human_and_json(server: Server) -> None:
    out = ok(server, "send", "--to", TO, "--channel", "sms", "--text", "Hello human")
    head, columns, row = out.splitlines()
    assert head.startswith("omnimessage ") and head.endswith(f" to {TO}")
    assert columns.split() == ["CHANNEL", "MESSAGE", "ID", "SENDER"]
    assert row.split()[0] == "sms" and row.split()[2] == "AliceCo"
    assert row.index("AliceCo") == columns.index("SENDER")

    sent = ok_json(server, "send", "--to", TO, "--text", "Hello script")
    assert set(sent) == {"messages", "to", "omnimessage_id"}
    assert sent["to"] == TO
    assert [(m["channel"], m["sender"]) for m in sent["messages"]] == [("sms", "AliceCo")]
    wait_status(server, sent["omnimessage_id"], "DELIVRD")
    status = ok(server, "status", sent["omnimessage_id"])
    assert status.splitlines()[1].split() == [
        "CHANNEL",
        "STATUS",
        "ERR",
        "ERROR",
        "TIMESTAMP",
        "(UTC)",
    ]
    assert status.splitlines()[2].split()[:3] == ["sms", "DELIVRD", "0"]


def test_send_chain_with_flags_instead_of_environment(server: Server) -> None:
    # Undeliverable on the first channel (magic number: A=2), delivered on the second.
    to = "+447700900200"
    done = subprocess.run(
        [
            *TIDINGS,
            "send",
            "--url",
            server.url + "/v1",
            "--username",
            "alice",
            "--password",
            "alice-secret-pw",
            "--to",
            to,
            "--channel",
            "viber",
            "--text",
            "viber first",
            "--channel",
            "sms",
            "--text",
            "then sms",
            "--json",
        ],
        capture_output=True,
        text=True,
        timeout=60,
        env={k: v for k, v in os.environ.items() if not k.startswith("TIDINGS_")},
    )
    assert done.returncode == 0, done.stderr
    sent = json.loads(done.stdout)
    assert [m["channel"] for m in sent["messages"]] == ["viber", "sms"]
    wait_status(server, sent["omnimessage_id"], "DELIVRD")
    rows = ok(server, "status", sent["omnimessage_id"]).splitlines()[2:]
    assert [r.split()[:2] for r in rows] == [["viber", "UNDELIV"], ["sms", "DELIVRD"]]
    inbox = ok_json(server, "inbox", "--to", to)
    assert [(m["channel"], m["text"]) for m in inbox["messages"]] == [("sms", "then sms")]


def test_scheduled_cancel_and_status(server: Server) -> None:
    out = ok(server, "send", "--to", TO, "--text", "later", "--at", "+1m")
    assert "scheduled for " in out.splitlines()[0]
    omni_id = out.split()[1]
    assert ok(server, "status", omni_id).splitlines()[2].split() == [
        "sms",
        "pending",
        "-",
        "-",
        "-",
    ]
    assert ok(server, "cancel", omni_id).strip() == f"cancelled {omni_id}"
    assert ok_json(server, "cancel", omni_id) == {}  # again: 202 again
    assert ok(server, "status", omni_id).splitlines()[2].split()[:2] == ["sms", "DELETED"]
    assert ok_json(server, "status", omni_id)["statuses"][0]["status"] == "DELETED"


def test_relative_at_schedules_a_few_seconds_ahead(server: Server) -> None:
    sent = ok_json(server, "send", "--to", TO, "--text", "soon", "--at", "+2s")
    omni_id = sent["omnimessage_id"]
    with server.client() as http:  # in-process: faster than the 2 s
        assert http.get(f"/v1/omnimessage/{omni_id}/status").json()["statuses"][0]["status"] is None
    wait_status(server, omni_id, "DELIVRD")
    assert "DELIVRD" in ok(server, "status", omni_id)


def test_status_of_unknown_id_is_not_found(shared_server: Server) -> None:
    server = shared_server
    for omni_id in ["0b6e4c1e-7d1c-4c39-9f0c-5d0b7e3c8a11", "no-such-id"]:
        done = cli(server, "status", omni_id)
        assert done.returncode == 1
        assert "not found" in done.stderr.lower()
        assert done.stdout == ""
    done = cli(server, "cancel", "0b6e4c1e-7d1c-4c39-9f0c-5d0b7e3c8a11", "--json")
    assert done.returncode == 1
    assert json.loads(done.stdout)["errors"][0]["code"] == "101"


def test_bad_input_names_the_field(shared_server: Server) -> None:
    server = shared_server
    done = cli(server, "send", "--to", "abc", "--text", "x")
    assert done.returncode == 1
    assert done.stderr.startswith("error 105 (Invalid data) at to: ")
    done = cli(server, "send", "--to", TO, "--channel", "sms", "--text", "")
    assert done.returncode == 1
    assert "at messages[0].text: " in done.stderr


def test_usage_errors_exit_2(shared_server: Server) -> None:
    server = shared_server
    done = cli(server, "send", "--to", TO, "--channel", "sms", "--channel", "viber", "--text", "x")
    assert done.returncode == 2
    assert "each --channel needs one --text" in done.stderr
    done = cli(server, "send", "--to", TO, "--channel", "rcs", "--text", "x")
    assert done.returncode == 2
    assert "rcs needs a sender" in done.stderr
    assert cli(server, "send", "--to", TO, "--text", "x", "--at", "+5y").returncode == 2


def test_wrong_password(shared_server: Server) -> None:
    server = shared_server
    done = cli(server, "inbox", TIDINGS_PASSWORD="wrong")
    assert done.returncode == 1
    assert done.stderr.strip() == (
        "authentication failed (check --username/--password or TIDINGS_USERNAME/TIDINGS_PASSWORD)"
    )


def test_unreachable_server_exits_3(shared_server: Server) -> None:
    server = shared_server
    url = f"http://127.0.0.1:{free_port()}"
    done = cli(server, "send", "--to", TO, "--text", "x", TIDINGS_URL=url)
    assert done.returncode == 3
    assert done.stderr.startswith(f"cannot reach {url}: ")


def test_inbox_lists_the_sent_message(server: Server) -> None:
    sent = ok_json(server, "send", "--to", TO, "--text", "for the inbox")
    deadline = time.monotonic() + 15
    while True:
        inbox = ok_json(server, "inbox", "--to", TO)
        if inbox["messages"] or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    [message] = inbox["messages"]
    assert message["omnimessage_id"] == sent["omnimessage_id"]
    assert (message["to"], message["channel"], message["text"]) == (TO, "sms", "for the inbox")
    human = ok(server, "inbox", "--to", TO).splitlines()
    assert human[0].split()[:4] == ["TIME", "(UTC)", "TO", "CHANNEL"]
    assert human[1].split()[2:] == [TO, "sms", "AliceCo", "for", "the", "inbox"]
    assert ok(server, "inbox", "--to", "+37251234568").strip() == "no messages"


def _reader(proc: subprocess.Popen[str]) -> queue.Queue[str]:
    lines: queue.Queue[str] = queue.Queue()

    def pump() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.put(line)

    threading.Thread(target=pump, daemon=True).start()
    return lines


def _default_sigint() -> None:
    signal.signal(signal.SIGINT, signal.SIG_DFL)


@pytest.mark.parametrize("as_json", [False, True], ids=["table", "json"])
def test_inbox_follow_prints_new_messages_until_ctrl_c(server: Server, as_json: bool) -> None:
    ok(server, "send", "--to", TO, "--text", "already there")
    with server.client() as http:
        wait_until(lambda: http.get("/v1/sandbox/messages").json()["messages"], "the inbox")
    args = [*TIDINGS, "inbox", "--to", TO, "--follow", *(["--json"] if as_json else [])]
    proc = subprocess.Popen(
        args,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=_env(server),
        # As at a terminal: a test run started in the background (`cmd &` in a script) ignores
        # SIGINT, and a child would inherit that and never see the Ctrl-C this test sends.
        preexec_fn=_default_sigint,
    )
    try:
        lines = _reader(proc)
        first = lines.get(timeout=20)
        if not as_json:
            assert first.startswith("TIME (UTC)")
            first = lines.get(timeout=20)
        assert "already there" in first
        ok(server, "send", "--to", TO, "--channel", "whatsapp", "--text", "arrived while following")
        deadline = time.monotonic() + 20
        while True:
            line = lines.get(timeout=max(deadline - time.monotonic(), 0.1))
            if "arrived while following" in line:
                break
        if as_json:
            message = json.loads(line)
            assert (message["channel"], message["text"]) == ("whatsapp", "arrived while following")
        else:
            assert line.split()[2:5] == [TO, "whatsapp", "AliceCo"]
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=10) == 0
        assert proc.stderr is not None
        assert "Traceback" not in proc.stderr.read()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
