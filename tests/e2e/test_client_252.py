"""The older official client, `messente-api` 2.5.2 (API 2.0.0: Telegram, no RCS), end to end.

It cannot share the venv with 2.7.0, so `clients/v252_scenario.py` runs in a subprocess of the
same interpreter with the 2.5.2 directory first on PYTHONPATH and prints JSON. Every response it
read went through the 2.5.2 models: a `channel` outside {sms, viber, whatsapp, telegram} (e.g.
`rcs`), or a status/err outside its enums, would have crashed the script.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.e2e.server import Server

SCENARIO = Path(__file__).parent / "clients" / "v252_scenario.py"
TO = "+37252520001"


@pytest.fixture(scope="module")
def scenario(shared_server: Server, messente_252_path: Path) -> dict[str, Any]:
    env = {**os.environ, "PYTHONPATH": str(messente_252_path)}
    done = subprocess.run(
        [
            sys.executable,
            str(SCENARIO),
            shared_server.url + "/v1",
            shared_server.username,
            shared_server.password,
            TO,
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, f"scenario failed:\n{done.stderr}\n{done.stdout}"
    result: dict[str, Any] = json.loads(done.stdout)
    return result


def inbox(server: Server, to: str) -> list[dict[str, Any]]:
    r = httpx.get(
        f"{server.url}/v1/sandbox/messages", params={"to": to}, auth=server.auth, timeout=10
    )
    assert r.status_code == 200, r.text
    messages: list[dict[str, Any]] = r.json()["messages"]
    return messages


def test_runs_the_real_2_5_2(scenario: dict[str, Any], messente_252_path: Path) -> None:
    assert scenario["version"] == "2.5.2"
    assert scenario["metadata_version"] == "2.5.2"
    assert Path(scenario["module_file"]).resolve().is_relative_to(messente_252_path.resolve())
    assert scenario["has_telegram"] is True
    assert scenario["has_rcs"] is False


@pytest.mark.parametrize(
    ("name", "channels", "sender"),
    [
        ("telegram_text", ["telegram"], "AliceCo"),
        ("telegram_image", ["telegram"], "AliceCo"),
        ("sms", ["sms"], "Tidings252"),
        ("telegram_then_sms", ["telegram", "sms"], "AliceCo"),
    ],
)
def test_send_and_read_status(
    scenario: dict[str, Any], name: str, channels: list[str], sender: str
) -> None:
    sent = scenario["sends"][name]
    response, report = sent["response"], sent["status"]
    assert response["to"] == TO
    uuid.UUID(response["omnimessage_id"])
    assert [m["channel"] for m in response["messages"]] == channels
    assert all(m["sender"] == sender for m in response["messages"])

    assert report["omnimessage_id"] == response["omnimessage_id"]
    assert report["to"] == TO
    statuses = report["statuses"]
    # Only the channels the request named, in send order, with the same message ids.
    assert [s["channel"] for s in statuses] == channels
    assert [s["message_id"] for s in statuses] == [m["message_id"] for m in response["messages"]]
    first, *rest = statuses
    assert first["status"] == "DELIVRD"
    assert first["err"] == 0
    assert first["error"] is None
    assert first["timestamp"] is not None
    # The first channel delivered, so the fallback was never tried.
    for later in rest:
        assert later["status"] is None
        assert later["err"] is None


def test_inbox_holds_what_2_5_2_sent(scenario: dict[str, Any], shared_server: Server) -> None:
    by_omni: dict[str, list[dict[str, Any]]] = {}
    for m in inbox(shared_server, TO):
        by_omni.setdefault(m["omnimessage_id"], []).append(m)
    sends = scenario["sends"]

    def only(name: str) -> dict[str, Any]:
        got = by_omni.get(sends[name]["response"]["omnimessage_id"], [])
        assert len(got) == 1, got
        assert got[0]["message_id"] == sends[name]["response"]["messages"][0]["message_id"]
        return got[0]

    text = only("telegram_text")
    assert (text["channel"], text["text"]) == ("telegram", "Hello from Telegram")
    image = only("telegram_image")
    assert image["channel"] == "telegram"
    assert "Look at this" in image["text"]
    assert "https://example.com/cat.png" in image["text"]
    assert image["content"]["image_url"] == "https://example.com/cat.png"
    sms = only("sms")
    assert (sms["channel"], sms["sender"], sms["text"]) == ("sms", "Tidings252", "Hello by SMS")
    chain = only("telegram_then_sms")
    assert (chain["channel"], chain["text"]) == ("telegram", "Chain: Telegram first")
    # The cancelled message never reached the inbox.
    assert scenario["scheduled"]["response"]["omnimessage_id"] not in by_omni


def test_schedule_and_cancel(scenario: dict[str, Any]) -> None:
    s = scenario["scheduled"]
    ids = [m["message_id"] for m in s["response"]["messages"]]
    assert [m["channel"] for m in s["response"]["messages"]] == ["telegram", "sms"]
    before = s["status_before"]["statuses"]
    assert [(x["channel"], x["message_id"], x["status"]) for x in before] == [
        ("telegram", ids[0], None),
        ("sms", ids[1], None),
    ]
    assert s["cancel"] == {}
    after = s["status_after"]["statuses"]
    assert [(x["channel"], x["message_id"], x["status"]) for x in after] == [
        ("telegram", ids[0], "DELETED"),
        ("sms", ids[1], "DELETED"),
    ]
    assert s["cancel_again"] == {}


def _error(outcome: dict[str, Any]) -> dict[str, Any]:
    assert outcome["data_type"] == "ErrorOmnichannel", outcome
    errors = json.loads(outcome["body"])["errors"]
    assert len(errors) >= 1
    error: dict[str, Any] = errors[0]
    return error


def test_cancel_after_sending_is_not_found(scenario: dict[str, Any]) -> None:
    outcome = scenario["cancel_sent"]
    assert (outcome["exception"], outcome["status"]) == ("NotFoundException", 404)
    assert _error(outcome)["code"] == "101"


def test_telegram_with_two_attachments_is_rejected(scenario: dict[str, Any]) -> None:
    outcome = scenario["bad_request"]
    assert (outcome["exception"], outcome["status"]) == ("BadRequestException", 400)
    error = _error(outcome)
    assert error["code"] == "105"
    assert error["source"].startswith("messages[0].")


def test_wrong_password_is_unauthorized(scenario: dict[str, Any]) -> None:
    outcome = scenario["unauthorized"]
    assert (outcome["exception"], outcome["status"]) == ("UnauthorizedException", 401)
    assert _error(outcome)["code"] == "103"
