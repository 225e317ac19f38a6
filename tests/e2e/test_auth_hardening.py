"""Authentication against the real server: guessing limits, constant-cost failures, account
changes and console sign-outs that take effect on the next request, per-account rate limits.

Client addresses are set with `X-Forwarded-For`: uvicorn trusts it from 127.0.0.1, as it would
from a reverse proxy on the same machine.
"""

from __future__ import annotations

import contextlib
import math
import signal
import statistics
import time
from collections.abc import Callable, Iterator
from contextlib import closing
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.e2e.server import Server, run_cli
from tests.e2e.test_console_http import csrf_of
from tidings.web.console.routes import LIVE_STREAM_S

INBOX = "/v1/sandbox/messages"
BODY = {"to": "+37251234567", "messages": [{"channel": "sms", "text": "hi"}]}
OWNER = ("alice", "alice-secret-pw")

Start = Callable[..., Server]


def at(address: str) -> dict[str, str]:
    return {"X-Forwarded-For": address}


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def database(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A fresh database of each kind with accounts `alice` and `bob`."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'tidings.db'}"
    else:
        url = request.getfixturevalue("pg_database")
    run_cli("accounts", "add", "alice", "--password", OWNER[1], database=url)
    run_cli("accounts", "add", "bob", "--password", "bob-secret-pw", database=url)
    return url


@pytest.fixture
def start(tmp_path: Path) -> Iterator[Start]:
    """Start `tidings serve` processes (all stopped at the end)."""
    servers: list[Server] = []

    def go(database: str, **env: str) -> Server:
        srv = Server(tmp_path, database, env=env)
        srv.start()
        servers.append(srv)
        return srv

    yield go
    for srv in servers:
        if srv.proc is not None:
            srv.stop(signal.SIGKILL)


def password_checks(server: Server) -> float | None:
    """How many Argon2 password checks the server has run (None: it does not say)."""
    text = httpx.get(f"{server.url}/metrics", timeout=10).text
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            if s.name == "tidings_auth_password_checks_total":
                return s.value
    return None


def checks_since(server: Server, before: float | None) -> float:
    after = password_checks(server)
    assert before is not None and after is not None, "tidings_auth_password_checks is not exported"
    return after - before


def assert_429(r: httpx.Response) -> None:
    assert r.status_code == 429, r.text
    assert int(r.headers["retry-after"]) >= 1
    (item,) = r.json()["errors"]
    assert item["code"] == "102" and "retry after" in item["detail"]


def test_guessing_gets_429s_and_the_owner_elsewhere_still_gets_in(
    database: str, start: Start
) -> None:
    srv = start(database)
    with httpx.Client(base_url=srv.url, timeout=30) as c:
        assert c.get(INBOX, auth=OWNER).status_code == 200  # a verified credential, remembered
        checks = password_checks(srv)
        began = time.monotonic()
        answers = [
            c.get(INBOX, auth=("alice", f"guess-{i}"), headers=at("203.0.113.7"))
            for i in range(200)
        ]
        elapsed = time.monotonic() - began
        codes = [r.status_code for r in answers]
        assert codes[:5] == [401] * 5, codes[:10]
        assert_429(answers[5])
        assert set(codes) == {401, 429}
        # After the fifth failure the client waits 1 s, then 2 s, 4 s ...: within `elapsed`
        # seconds only a few more guesses are even looked at.
        assert codes.count(401) <= 5 + math.ceil(math.log2(elapsed + 1)) + 1, codes
        for r in answers:
            if r.status_code == 429:
                assert_429(r)
        # Every refused password cost one real check; no 429 cost one.
        assert checks_since(srv, checks) == codes.count(401)
        # The owner, from another address, is not locked out by it.
        assert c.get(INBOX, auth=OWNER, headers=at("198.51.100.9")).status_code == 200
        r = c.post("/v1/omnimessage", json=BODY, auth=OWNER, headers=at("198.51.100.9"))
        assert r.status_code == 201


def test_a_wrong_password_costs_what_an_unknown_user_costs(tmp_path: Path, start: Start) -> None:
    url = f"sqlite:///{tmp_path / 'tidings.db'}"
    run_cli("accounts", "add", "alice", "--password", OWNER[1], database=url)
    srv = start(url)
    with httpx.Client(base_url=srv.url, timeout=30) as c:
        assert c.get(INBOX, auth=OWNER).status_code == 200
        checks = password_checks(srv)
        wrong: list[float] = []
        unknown: list[float] = []
        for i in range(7):  # interleaved, each from its own address (no limit is reached)
            for times, auth, host in (
                (wrong, ("alice", f"wrong-{i}"), i),
                (unknown, (f"nobody-{i}", "x"), 100 + i),
            ):
                t = time.perf_counter()
                r = c.get(INBOX, auth=auth, headers=at(f"192.0.2.{host}"))
                times.append(time.perf_counter() - t)
                assert r.status_code == 401
                assert r.json() == {
                    "errors": [
                        {
                            "title": "Unauthorized",
                            "detail": "Valid HTTP Basic credentials are required",
                            "code": "103",
                            "source": None,
                        }
                    ]
                }
        # The same work, so about the same time (the two differed 100-fold with a cache that
        # answered wrong passwords of a signed-in user without checking them).
        ratio = statistics.median(wrong) / statistics.median(unknown)
        assert 1 / 5 < ratio < 5, (wrong, unknown)
        assert checks_since(srv, checks) == 14


def test_password_change_and_removal_take_effect_on_the_next_request(
    database: str, start: Start
) -> None:
    srv = start(database)
    with httpx.Client(base_url=srv.url, timeout=30) as c:
        assert c.post("/v1/omnimessage", json=BODY, auth=OWNER).status_code == 201
        assert c.get(INBOX, auth=OWNER).status_code == 200
        tomorrow = datetime.now(UTC) + timedelta(days=1)
        later = {**BODY, "time_to_send": tomorrow.isoformat(timespec="seconds")}
        ids = [c.post("/v1/omnimessage", json=later, auth=OWNER).json()["omnimessage_id"]]
        ids += [c.post("/v1/omnimessage", json=later, auth=OWNER).json()["omnimessage_id"]]
        assert c.delete(f"/v1/omnimessage/{ids[0]}", auth=OWNER).status_code == 202
        out = run_cli("accounts", "set", "alice", "--password", "new-pw", database=database)
        assert "console sessions were signed out" in out.stdout
        assert c.post("/v1/omnimessage", json=BODY, auth=OWNER).status_code == 401
        assert c.get(INBOX, auth=OWNER).status_code == 401
        # A cancel with the old password (remembered by the server a moment ago) cancels nothing.
        # (From another address: each 401 counts against the client's guessing back-off.)
        r = c.delete(f"/v1/omnimessage/{ids[1]}", auth=OWNER, headers=at("192.0.2.51"))
        assert r.status_code == 401
        new = ("alice", "new-pw")
        status = c.get(f"/v1/omnimessage/{ids[1]}/status", auth=new).json()
        assert {s["status"] for s in status["statuses"]} != {"DELETED"}
        assert c.post("/v1/omnimessage", json=BODY, auth=new).status_code == 201
        run_cli("accounts", "set", "alice", "--sender", "Changed", database=database)
        r = c.post("/v1/omnimessage", json=BODY, auth=new)
        assert r.status_code == 201 and r.json()["messages"][0]["sender"] == "Changed"
        assert c.post("/v1/omnimessages", json={"messages": [BODY]}, auth=new).status_code == 201
        assert c.delete(f"/v1/omnimessage/{ids[1]}", auth=new).status_code == 202
        late = c.post("/v1/omnimessage", json=later, auth=new).json()["omnimessage_id"]
        run_cli("accounts", "remove", "alice", database=database)
        r = c.delete(f"/v1/omnimessage/{late}", auth=new, headers=at("192.0.2.52"))
        assert r.status_code == 401
        assert c.post("/v1/omnimessage", json=BODY, auth=new).status_code == 401
        assert c.post("/v1/omnimessages", json={"messages": [BODY]}, auth=new).status_code == 401
        assert c.get(INBOX, auth=new).status_code == 401
        # Nor does a removed account learn what is wrong with a body (from another address: the
        # failures above count against this one).
        elsewhere = at("192.0.2.50")
        r = c.post("/v1/omnimessage", json={"to": "x"}, auth=new, headers=elsewhere)
        assert r.status_code == 401
        invalid_only = {"messages": [{"to": "x", "messages": []}]}
        r = c.post("/v1/omnimessages", json=invalid_only, auth=new, headers=elsewhere)
        assert r.status_code == 401
        assert c.get(INBOX, auth=("bob", "bob-secret-pw")).status_code == 200


def sign_in(server: Server, user: str = "alice", password: str = OWNER[1]) -> httpx.Client:
    c = httpx.Client(base_url=server.url, timeout=30)
    token = csrf_of(c.get("/login").text)
    r = c.post("/login", data={"csrf": token, "username": user, "password": password})
    assert r.status_code == 303, r.text
    return c


def copy_of(c: httpx.Client, server: Server) -> httpx.Client:
    """Another browser holding a copy of `c`'s session cookie."""
    return httpx.Client(
        base_url=server.url, timeout=30, cookies={"tidings_session": c.cookies["tidings_session"]}
    )


def signed_in(c: httpx.Client) -> bool:
    r = c.get("/scheduled")
    assert r.status_code in (200, 303)
    return r.status_code == 200


def test_sign_out_password_change_and_removal_end_console_sessions(
    database: str, start: Start
) -> None:
    srv = start(database)
    with contextlib.ExitStack() as stack:
        c = stack.enter_context(closing(sign_in(srv)))
        copy = stack.enter_context(closing(copy_of(c, srv)))
        assert signed_in(copy)
        feed = stack.enter_context(copy.stream("GET", "/inbox/events"))
        lines = feed.iter_lines()
        assert next(lines).startswith("retry:")
        assert (
            c.post("/logout", data={"csrf": csrf_of(c.get("/scheduled").text)}).status_code == 303
        )
        assert not signed_in(c)
        assert not signed_in(copy)  # the copy taken before signing out is worth nothing now
        signed_out = time.monotonic()
        for _ in lines:  # the live feed of the copy ends too, well before its 25 s are up
            pass
        assert time.monotonic() - signed_out < LIVE_STREAM_S / 2
        c2 = stack.enter_context(closing(sign_in(srv)))
        run_cli("accounts", "set", "alice", "--password", "new-pw", database=database)
        assert not signed_in(c2)
        c3 = stack.enter_context(closing(sign_in(srv, password="new-pw")))
        bob = stack.enter_context(closing(sign_in(srv, "bob", "bob-secret-pw")))
        run_cli("accounts", "remove", "alice", database=database)
        assert not signed_in(c3)
        assert signed_in(bob)


@pytest.mark.postgres
def test_two_processes_on_postgresql_see_changes_at_once(pg_database: str, start: Start) -> None:
    run_cli("accounts", "add", "alice", "--password", OWNER[1], database=pg_database)
    a, b = start(pg_database), start(pg_database)
    with contextlib.ExitStack() as stack:
        # An API client for each process, each from its own address (each fails four times).
        ca, cb = (
            stack.enter_context(
                httpx.Client(base_url=s.url, timeout=30, headers=at(f"192.0.2.{i}"))
            )
            for i, s in enumerate((a, b))
        )
        for c in (ca, cb):  # both processes remember the verified credential
            assert c.post("/v1/omnimessage", json=BODY, auth=OWNER).status_code == 201
            assert c.get(INBOX, auth=OWNER).status_code == 200
        # Signed in through A, signed out through B: a copy fails in both at once.
        browser = stack.enter_context(closing(sign_in(a)))
        copy_a, copy_b = (stack.enter_context(closing(copy_of(browser, s))) for s in (a, b))
        assert signed_in(copy_a) and signed_in(copy_b)
        on_b = stack.enter_context(closing(copy_of(browser, b)))
        assert on_b.post("/logout", data={"csrf": csrf_of(on_b.get("/").text)}).status_code == 303
        assert not signed_in(copy_a) and not signed_in(copy_b)
        # A password change through the CLI: the old one fails on the next request in both.
        browser = stack.enter_context(closing(sign_in(b)))
        copy_a = stack.enter_context(closing(copy_of(browser, a)))
        assert signed_in(copy_a)
        run_cli("accounts", "set", "alice", "--password", "new-pw", database=pg_database)
        assert not signed_in(copy_a) and not signed_in(browser)
        new = ("alice", "new-pw")
        for c in (ca, cb):
            assert c.post("/v1/omnimessage", json=BODY, auth=OWNER).status_code == 401
            assert c.get(INBOX, auth=OWNER).status_code == 401
            assert c.post("/v1/omnimessage", json=BODY, auth=new).status_code == 201
        run_cli("accounts", "remove", "alice", database=pg_database)
        for c in (ca, cb):
            assert c.post("/v1/omnimessage", json=BODY, auth=new).status_code == 401
            assert c.get(INBOX, auth=new).status_code == 401


def test_each_account_has_a_request_rate_limit(database: str, start: Start) -> None:
    srv = start(database, TIDINGS_RATE_PER_SECOND="1", TIDINGS_RATE_BURST="5")
    with httpx.Client(base_url=srv.url, timeout=30) as c:
        assert c.get(INBOX, auth=("bob", "bob-secret-pw")).status_code == 200
        began = time.monotonic()
        answers = [c.post("/v1/omnimessage", json=BODY, auth=OWNER) for _ in range(20)]
        elapsed = time.monotonic() - began
        ok = [r for r in answers if r.status_code == 201]
        assert 3 <= len(ok) <= 5 + elapsed * 1 + 1, [r.status_code for r in answers]
        refused = [r for r in answers if r.status_code != 201]
        assert refused
        for r in refused:
            assert_429(r)
        # Another account has a bucket of its own.
        assert c.get(INBOX, auth=("bob", "bob-secret-pw")).status_code == 200


@pytest.mark.postgres
def test_the_rate_limit_is_shared_by_the_processes_on_postgresql(
    pg_database: str, start: Start
) -> None:
    run_cli("accounts", "add", "alice", "--password", OWNER[1], database=pg_database)
    env = {"TIDINGS_RATE_PER_SECOND": "0.5", "TIDINGS_RATE_BURST": "6"}
    a, b = start(pg_database, **env), start(pg_database, **env)
    with contextlib.ExitStack() as stack:
        clients = [stack.enter_context(httpx.Client(base_url=s.url, timeout=30)) for s in (a, b)]
        began = time.monotonic()
        codes = [clients[i % 2].get(INBOX, auth=OWNER).status_code for i in range(24)]
        elapsed = time.monotonic() - began
    # One bucket of 6 for both processes (each alone would have let 6 through).
    assert codes.count(200) <= 6 + 0.5 * elapsed + 1, codes
    assert codes.count(200) >= 3 and set(codes) == {200, 429}


def test_console_guessing_does_not_lock_the_owner_out(tmp_path: Path, start: Start) -> None:
    url = f"sqlite:///{tmp_path / 'tidings.db'}"
    run_cli("accounts", "add", "alice", "--password", OWNER[1], database=url)
    run_cli("accounts", "add", "bob", "--password", "bob-secret-pw", database=url)
    srv = start(url)
    shared = at("203.0.113.50")  # e.g. one proxy or NAT address for the attacker and the owner

    def attempt(c: httpx.Client, user: str, password: str, where: dict[str, str]) -> int:
        token = csrf_of(c.get("/login").text)
        data = {"csrf": token, "username": user, "password": password}
        return c.post("/login", data=data, headers=where).status_code

    with contextlib.ExitStack() as stack:
        owner = stack.enter_context(httpx.Client(base_url=srv.url, timeout=30))
        assert attempt(owner, "alice", OWNER[1], shared) == 303  # this browser signed in before
        assert owner.post("/logout", data={"csrf": csrf_of(owner.get("/").text)}).status_code == 303
        attacker = stack.enter_context(httpx.Client(base_url=srv.url, timeout=30))
        codes = [attempt(attacker, "alice", f"guess-{i}", shared) for i in range(11)]
        assert codes[:5] == [401] * 5 and codes[-1] == 429, codes
        # Right password, same address, new browser: it waits like the guesser (no oracle)...
        assert attempt(attacker, "alice", OWNER[1], shared) == 429
        # ...but the owner's own browser, another user there, and the owner elsewhere get in.
        assert attempt(owner, "alice", OWNER[1], shared) == 303
        other = stack.enter_context(httpx.Client(base_url=srv.url, timeout=30))
        assert attempt(other, "bob", "bob-secret-pw", shared) == 303
        elsewhere = stack.enter_context(httpx.Client(base_url=srv.url, timeout=30))
        assert attempt(elsewhere, "alice", OWNER[1], at("198.51.100.77")) == 303
        assert codes == [401] * 5 + [429] * 6  # five tries, then the guesser waits
