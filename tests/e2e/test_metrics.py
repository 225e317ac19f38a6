"""`/metrics` exposes the engine's figures in Prometheus text format."""

from __future__ import annotations

import signal
from pathlib import Path

import httpx
from prometheus_client.parser import text_string_to_metric_families

from tests.e2e.server import Server, run_cli
from tests.waiting import wait_until


def _samples(server: Server) -> dict[str, float]:
    with server.client() as c:
        r = c.get("/metrics")
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/plain")
    out: dict[str, float] = {}
    for family in text_string_to_metric_families(r.text):
        for s in family.samples:
            if not s.labels or s.name.endswith("_count"):
                out[s.name] = out.get(s.name, 0.0) + s.value
            elif family.name == "tidings_sent":
                out[f"tidings_sent_total:{s.labels['channel']}"] = s.value
    return out


def test_metrics_count_what_happened(server: Server) -> None:
    before = _samples(server)
    for name in (
        "tidings_lateness_seconds_count",
        "tidings_claimed_total",
        "tidings_cancelled_total",
        "tidings_recovered_total",
        "tidings_unknown_total",
        "tidings_pending",
        "tidings_claim_batch_size_count",
        "tidings_fire_batch_size_count",
    ):
        assert name in before, name
    with server.client() as c:
        for _ in range(3):
            r = c.post(
                "/v1/omnimessage",
                json={"to": "+37251234567", "messages": [{"channel": "sms", "text": "m"}]},
            )
            assert r.status_code == 201
        r = c.post(
            "/v1/omnimessage",
            json={
                "to": "+37251234567",
                "time_to_send": "2099-01-01T00:00",
                "messages": [{"channel": "sms", "text": "m"}],
            },
        )
        assert r.status_code == 400  # more than a year ahead
        r = c.post(
            "/v1/omnimessage",
            json={
                "to": "+37251234567",
                "time_to_send": None,
                "messages": [{"channel": "sms", "text": "m"}],
            },
        )
        assert r.status_code == 201  # null time_to_send = now

    def measured() -> dict[str, float] | None:
        a = _samples(server)
        done = (
            a["tidings_lateness_seconds_count"] - before["tidings_lateness_seconds_count"] >= 4
            and a.get("tidings_sent_total:sms", 0) >= 4
            and a["tidings_claimed_total"] - before["tidings_claimed_total"] >= 4
        )
        return a if done else None

    after = wait_until(measured, "the four sends to be counted", 10)
    assert after["tidings_lateness_seconds_count"] - before["tidings_lateness_seconds_count"] == 4
    assert after["tidings_sent_total:sms"] >= 4
    assert after["tidings_claimed_total"] - before["tidings_claimed_total"] >= 4


def test_metrics_are_open_by_default(server: Server) -> None:
    r = httpx.get(f"{server.url}/metrics", timeout=10)
    assert r.status_code == 200 and "tidings_pending" in r.text


def test_metrics_token_closes_metrics(tmp_path: Path) -> None:
    database = f"sqlite:///{tmp_path / 'tidings.db'}"
    run_cli("accounts", "add", "alice", "--password", "alice-secret-pw", database=database)
    srv = Server(tmp_path, database, env={"TIDINGS_METRICS_TOKEN": "scrape-me-0123"})
    srv.start()
    try:
        url = f"{srv.url}/metrics"
        for headers in (
            {},
            {"Authorization": "Bearer wrong"},
            {"Authorization": "Basic YWxpY2U6YWxpY2Utc2VjcmV0LXB3"},  # an API account is not it
            {"Authorization": "scrape-me-0123"},
        ):
            r = httpx.get(url, headers=headers, timeout=10)
            assert r.status_code == 401, headers
            assert r.headers["www-authenticate"].startswith("Bearer")
            assert r.json()["errors"][0]["code"] == "103"
        r = httpx.get(url, headers={"Authorization": "Bearer scrape-me-0123"}, timeout=10)
        assert r.status_code == 200 and "tidings_pending" in r.text
        assert httpx.get(f"{srv.url}/healthz", timeout=10).status_code == 200  # still open
    finally:
        srv.stop(signal.SIGKILL)
