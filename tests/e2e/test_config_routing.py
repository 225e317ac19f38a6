"""The real `tidings serve` with a configuration file: WhatsApp routed to a stand-in of the
Cloud API, SMS to the sandbox. The stand-in reports the WhatsApp message failed (a signed status
callback over HTTP); the fallback SMS then arrives in the sandbox inbox."""

from __future__ import annotations

import signal
from collections.abc import Callable
from pathlib import Path

import httpx

from tests.e2e.server import Server, run_cli
from tests.standins.runner import Served
from tests.standins.whatsapp import WhatsAppStandin
from tests.waiting import wait_until

TO = "+37251000401"


def _wait(cond: Callable[[], object], what: str, within: float = 15.0) -> None:
    wait_until(cond, what, within)


def test_whatsapp_failure_falls_back_to_sandbox_sms(tmp_path: Path) -> None:
    standin = WhatsAppStandin()
    database = f"sqlite:///{tmp_path / 'tidings.db'}"
    run_cli("accounts", "add", "alice", "--password", "alice-secret-pw", database=database)
    with Served(standin.app()) as graph_url:
        config = tmp_path / "tidings.toml"
        config.write_text(
            f"""
[connectors.wa]
type = "whatsapp"
base_url = "{graph_url}"
phone_number_id = "1055"
access_token_env = "E2E_WA_TOKEN"
app_secret_env = "E2E_WA_SECRET"
verify_token = "verify-me"

[routes]
whatsapp = "wa"
"""
        )
        srv = Server(
            tmp_path,
            database,
            env={
                "TIDINGS_CONFIG": str(config),
                "E2E_WA_TOKEN": standin.access_token,
                "E2E_WA_SECRET": standin.app_secret,
            },
        )
        srv.start()
        try:
            with srv.client() as c:
                r = c.post(
                    "/v1/omnimessage",
                    json={
                        "to": TO,
                        "messages": [
                            {"channel": "whatsapp", "text": {"body": "Hi on WhatsApp"}},
                            {"channel": "sms", "text": "Hi by SMS"},
                        ],
                    },
                )
                assert r.status_code == 201, r.text
                omni = r.json()["omnimessage_id"]
                _wait(lambda: TO[1:] in standin.ids, "the WhatsApp send")
                wamid = standin.wamid_for(TO[1:])

                def status() -> list[dict[str, object]]:
                    got: list[dict[str, object]] = c.get(f"/v1/omnimessage/{omni}/status").json()[
                        "statuses"
                    ]
                    return got

                _wait(lambda: status()[0]["status"] == "ACK", "ACK from WhatsApp")
                body, headers = standin.status_callback(
                    wamid, "failed", TO[1:], errors=[{"code": 131026, "title": "Undeliverable"}]
                )
                cb = httpx.post(f"{srv.url}/providers/wa/webhook", content=body, headers=headers)
                assert cb.status_code == 200, cb.text
                _wait(lambda: status()[1]["status"] == "DELIVRD", "the SMS fallback")
                st = status()
                assert st[0]["status"] == "UNDELIV" and st[0]["err"] == 3
                inbox = c.get("/v1/sandbox/messages", params={"to": TO}).json()["messages"]
                assert [m["channel"] for m in inbox] == ["sms"]
                assert len(standin.received) == 1
        finally:
            srv.stop(signal.SIGTERM)


def test_bad_config_is_a_clear_error_at_start(tmp_path: Path) -> None:
    database = f"sqlite:///{tmp_path / 'tidings.db'}"
    config = tmp_path / "tidings.toml"
    config.write_text(
        '[connectors.wa]\ntype = "whatsapp"\nphone_number_id = "1"\n'
        'access_token_env = "SURELY_UNSET_WA_TOKEN"\napp_secret = "s"\nverify_token = "v"\n'
    )
    import subprocess
    import sys

    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "tidings.cli",
            "serve",
            "--config",
            str(config),
            "--database",
            database,
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode != 0
    assert (
        "connectors.wa.access_token_env: environment variable SURELY_UNSET_WA_TOKEN is not set"
        in done.stderr
    )
