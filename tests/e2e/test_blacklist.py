"""The Phonebook blacklist end to end: the official clients' `BlacklistApi` (2.7.x in this venv,
2.5.2 in a subprocess) against a real server process, bad input on the endpoints, and the
fire-time rule: a listed number is never sent to, whether it was listed before the send or
after it was scheduled."""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from messente_api import (
    SMS,
    ApiClient,
    BlacklistApi,
    Configuration,
    DeliveryReportApi,
    NumberToBlacklist,
    Omnimessage,
    OmnimessageApi,
    OmnimessageMessagesInner,
    Viber,
)
from messente_api.exceptions import ApiException, NotFoundException, UnauthorizedException
from messente_api.models.error_phonebook import ErrorPhonebook

from tests.e2e.conftest import _running_server
from tests.e2e.receiver import Receiver
from tests.e2e.server import Server, run_cli
from tests.e2e.test_cli_client import cli, ok, ok_json
from tests.waiting import wait_until

SCENARIO_252 = Path(__file__).parent / "clients" / "v252_blacklist.py"
_numbers = iter(range(1, 1_000_000))


def new_to() -> str:
    """A fresh number of this module's own range (+37253...)."""
    return f"+37253{next(_numbers):06d}"


def _client(server: Server, username: str, password: str) -> ApiClient:
    return ApiClient(Configuration(host=server.url + "/v1", username=username, password=password))


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """One server for this module (accounts alice and bob): each test uses its own numbers."""
    workdir = tmp_path_factory.mktemp("blacklist-server")
    env = {"TIDINGS_WEBHOOK_ALLOW": "127.0.0.0/8"}  # delivery reports to a local receiver
    yield from _running_server(workdir, f"sqlite:///{workdir / 'tidings.db'}", env=env)


@pytest.fixture(scope="module")
def alice(server: Server) -> Iterator[ApiClient]:
    with _client(server, "alice", "alice-secret-pw") as client:
        yield client


def mine(numbers: list[str], *ours: str) -> list[str]:
    """The numbers of this test, in the order listed (the module's server is shared)."""
    return [n for n in numbers if n in ours]


def phonebook_errors(exc: ApiException) -> list[dict[str, Any]]:
    """The error items of a Phonebook error: parsed by the client into its own model, and the
    raw body with Messente's fields (plus `source`)."""
    assert isinstance(exc.data, ErrorPhonebook), (exc.status, exc.body)
    assert exc.body
    items: list[dict[str, Any]] = json.loads(exc.body)["errors"]
    for item in items:
        assert set(item) == {"title", "detail", "code", "source"}, item
        assert isinstance(item["code"], str) and item["detail"]
    return items


def inbox(server: Server, to: str) -> list[dict[str, Any]]:
    r = httpx.get(
        f"{server.url}/v1/sandbox/messages", params={"to": to}, auth=server.auth, timeout=10
    )
    assert r.status_code == 200, r.text
    messages: list[dict[str, Any]] = r.json()["messages"]
    return messages


def statuses(server: Server, omni_id: str) -> list[dict[str, Any]]:
    r = httpx.get(f"{server.url}/v1/omnimessage/{omni_id}/status", auth=server.auth, timeout=10)
    assert r.status_code == 200, r.text
    found: list[dict[str, Any]] = r.json()["statuses"]
    return found


def all_final(server: Server, omni_id: str) -> list[dict[str, Any]] | None:
    found = statuses(server, omni_id)
    return found if all(s["status"] in ("REJECTD", "DELIVRD") for s in found) else None


# -- the official clients ---------------------------------------------------------------------


def test_blacklist_api_2_7(server: Server, alice: ApiClient) -> None:
    api = BlacklistApi(alice)
    listed, other = new_to(), new_to()
    # Digits alone are read as international and stored in E.164, as recipients on send.
    assert api.add_to_blacklist(NumberToBlacklist(phone_number=listed.removeprefix("+"))) is None
    assert api.add_to_blacklist(NumberToBlacklist(phone_number=other)) is None
    with pytest.raises(ApiException) as conflict:
        api.add_to_blacklist(NumberToBlacklist(phone_number=listed))
    assert conflict.value.status == 409
    (item,) = phonebook_errors(conflict.value)
    assert (item["title"], item["code"], item["source"]) == ("Conflict", "204", None)

    assert mine(api.fetch_blacklist().phone_numbers, listed, other) == [listed, other]
    assert api.is_blacklisted(listed) is None  # 204
    assert api.delete_from_blacklist(listed) is None
    with pytest.raises(NotFoundException) as missing:
        api.is_blacklisted(listed)
    (item,) = phonebook_errors(missing.value)
    assert (item["title"], item["code"]) == ("Missing resource", "203")
    with pytest.raises(NotFoundException):
        api.delete_from_blacklist(listed)
    assert mine(api.fetch_blacklist().phone_numbers, listed, other) == [other]

    with (
        _client(server, "alice", "wrong") as wrong,
        pytest.raises(UnauthorizedException) as denied,
    ):
        BlacklistApi(wrong).fetch_blacklist()
    (item,) = phonebook_errors(denied.value)
    assert (item["title"], item["code"]) == ("Unauthorized", "202")


def test_blacklist_api_2_5_2(server: Server, messente_252_path: Path) -> None:
    number = new_to()
    done = subprocess.run(
        [
            sys.executable,
            str(SCENARIO_252),
            server.url + "/v1",
            server.username,
            server.password,
            number,
        ],
        env={**os.environ, "PYTHONPATH": str(messente_252_path)},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, f"scenario failed:\n{done.stderr}\n{done.stdout}"
    result = json.loads(done.stdout)
    assert result["version"] == "2.5.2"
    steps = result["steps"]
    ok_none = {"status": "ok", "value": None}
    assert steps["add"] == ok_none
    assert steps["add_again"]["status"] == 409
    assert [(e["title"], e["code"]) for e in steps["add_again"]["errors"]] == [("Conflict", "204")]
    assert steps["list"]["status"] == "ok"
    assert number in steps["list"]["value"]["phoneNumbers"]
    assert steps["check"] == ok_none
    assert steps["delete"] == ok_none
    assert steps["check_after"]["status"] == 404
    assert steps["check_after"]["errors"][0]["code"] == "203"
    assert steps["delete_again"]["status"] == 404
    assert steps["list_after"]["status"] == "ok"
    assert number not in steps["list_after"]["value"]["phoneNumbers"]
    assert steps["unauthorized"]["status"] == 401
    assert steps["unauthorized"]["errors"][0]["code"] == "202"


# -- bad input ----------------------------------------------------------------------------------


def _post(server: Server, body: bytes, **headers: str) -> httpx.Response:
    return httpx.post(
        f"{server.url}/v1/phonebook/blacklist",
        content=body,
        headers={"Content-Type": "application/json", **headers},
        auth=server.auth,
        timeout=10,
    )


def _error(r: httpx.Response, status: int) -> dict[str, Any]:
    assert r.status_code == status, r.text
    assert r.headers["content-type"] == "application/json"
    (item,) = r.json()["errors"]
    assert set(item) == {"title", "detail", "code", "source"}
    assert isinstance(item, dict)
    return item


@pytest.mark.parametrize(
    ("body", "source"),
    [
        (b'{"phoneNumber": "+1"}', "phoneNumber"),  # no such country code
        (b'{"phoneNumber": "+372 5123 4567"}', "phoneNumber"),  # spaces
        (b'{"phoneNumber": "0037251234567"}', "phoneNumber"),  # an international prefix
        (b'{"phoneNumber": "+\xd9\xa3\xd9\xa7\xd9\xa25123"}', "phoneNumber"),  # Arabic digits
        (b'{"phoneNumber": 37251234567}', "phoneNumber"),  # a number, not a string
        (b'{"phoneNumber": ["+37251234567"]}', "phoneNumber"),
        (b'{"phoneNumber": null}', "phoneNumber"),
        (b'{"phone": "+37251234567"}', "phoneNumber"),  # the wrong field name
        (b"[]", None),
        (b'"+37251234567"', None),
        (b'{"phoneNumber": "+37251234567"', None),  # malformed JSON
        (b"", None),
    ],
)
def test_add_refuses_bad_bodies(server: Server, body: bytes, source: str | None) -> None:
    item = _error(_post(server, body), 400)
    assert (item["title"], item["code"], item["source"]) == ("Invalid data", "201", source)


def test_add_refuses_other_media_types_and_huge_bodies(server: Server) -> None:
    r = _post(server, b'{"phoneNumber": "+37251234567"}', **{"Content-Type": "text/plain"})
    assert _error(r, 415)["code"] == "201"
    huge = b'{"phoneNumber": "+37251234567", "x": "' + b"a" * 100_000 + b'"}'
    assert _error(_post(server, huge), 413)["code"] == "201"
    check = httpx.get(f"{server.url}/v1/phonebook/blacklist/%2B37251234567", auth=server.auth)
    assert _error(check, 404)["code"] == "203"


@pytest.mark.parametrize("method", ["GET", "DELETE"])
@pytest.mark.parametrize(
    "phone", ["12", "+999123456", "abc", "+3725123456789012345", "%F0%9F%93%B1"]
)
def test_impossible_path_numbers(server: Server, method: str, phone: str) -> None:
    r = httpx.request(
        method, f"{server.url}/v1/phonebook/blacklist/{phone}", auth=server.auth, timeout=10
    )
    item = _error(r, 400)
    assert (item["title"], item["code"], item["source"]) == ("Invalid data", "201", "phone")


def test_another_accounts_entries_are_invisible(server: Server) -> None:
    number = new_to()
    assert _post(server, json.dumps({"phoneNumber": number}).encode()).status_code == 204
    bob = ("bob", "bob-secret-pw")
    base = f"{server.url}/v1/phonebook/blacklist"
    assert number not in httpx.get(base, auth=bob, timeout=10).json()["phoneNumbers"]
    quoted = number.replace("+", "%2B")
    assert _error(httpx.get(f"{base}/{quoted}", auth=bob, timeout=10), 404)["code"] == "203"
    assert _error(httpx.delete(f"{base}/{quoted}", auth=bob, timeout=10), 404)["code"] == "203"
    # Bob's own listing of the same number is his alone.
    r = httpx.post(base, json={"phoneNumber": number}, auth=bob, timeout=10)
    assert r.status_code == 204
    assert httpx.delete(f"{base}/{quoted}", auth=bob, timeout=10).status_code == 204
    assert httpx.get(f"{base}/{quoted}", auth=server.auth, timeout=10).status_code == 204
    # A literal '+' in the path is the same number.
    assert httpx.get(f"{base}/{number}", auth=server.auth, timeout=10).status_code == 204


def test_idempotency_key_on_add(server: Server) -> None:
    number = new_to()
    body = json.dumps({"phoneNumber": number}).encode()
    first = _post(server, body, **{"Idempotency-Key": "bl-1"})
    again = _post(server, body, **{"Idempotency-Key": "bl-1"})
    assert (first.status_code, again.status_code) == (204, 204)
    assert again.headers["idempotent-replayed"] == "true"
    # Without the key, the repeat is a conflict; a key reused for another body is refused.
    assert _error(_post(server, body), 409)["code"] == "204"
    other = json.dumps({"phoneNumber": new_to()}).encode()
    item = _error(_post(server, other, **{"Idempotency-Key": "bl-1"}), 422)
    assert (item["code"], item["source"]) == ("201", "Idempotency-Key")


# -- the fire-time rule ---------------------------------------------------------------------------


def _send(
    client: ApiClient, to: str, when: dt.datetime | None = None, dlr_url: str | None = None
) -> str:
    response = OmnimessageApi(client).send_omnimessage(
        Omnimessage(
            to=to,
            messages=[
                OmnimessageMessagesInner(SMS(text="hello")),
                OmnimessageMessagesInner(Viber(text="hello again")),
            ],
            time_to_send=when,
            dlr_url=dlr_url,
        )
    )
    return str(response.omnimessage_id)


def _assert_rejected(server: Server, client: ApiClient, omni_id: str, to: str) -> None:
    found = wait_until(lambda: all_final(server, omni_id), "the message's final statuses")
    assert [(s["channel"], s["status"], s["err"]) for s in found] == [
        ("sms", "REJECTD", 8),
        ("viber", "REJECTD", 8),
    ]
    # The official client reads the same report.
    report = DeliveryReportApi(client).retrieve_delivery_report(omni_id)
    assert [(s.status.value if s.status else None, s.err) for s in report.statuses] == [
        ("REJECTD", 8),
        ("REJECTD", 8),
    ]
    assert inbox(server, to) == []


def test_listed_after_scheduling_is_never_sent(backend_server: Server) -> None:
    server = backend_server
    with _client(server, "alice", "alice-secret-pw") as client:
        listed, control = new_to(), new_to()
        when = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=3)
        blocked_id = _send(client, listed, when)
        control_id = _send(client, control, when)
        assert [s["status"] for s in statuses(server, blocked_id)] == [None, None]
        BlacklistApi(client).add_to_blacklist(NumberToBlacklist(phone_number=listed))

        # The control message, due at the same instant, is delivered: the timers did fire.
        (got,) = wait_until(lambda: inbox(server, control), "the control message's delivery")
        assert got["omnimessage_id"] == control_id
        _assert_rejected(server, client, blocked_id, listed)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    r.start()
    yield r
    r.stop()


def test_direct_send_to_a_listed_number(
    server: Server, alice: ApiClient, receiver: Receiver
) -> None:
    to = new_to()
    BlacklistApi(alice).add_to_blacklist(NumberToBlacklist(phone_number=to))
    omni_id = _send(alice, to, dlr_url=receiver.url)  # accepted: 201 like any other
    _assert_rejected(server, alice, omni_id, to)
    # Reported to the dlr_url like any status.
    reports = [r.json for r in receiver.wait_for(2)]
    assert sorted((r["channel"], r["status"], r["err"]) for r in reports) == [
        ("sms", "REJECTD", 8),
        ("viber", "REJECTD", 8),
    ]
    assert {r["omnimessage_id"] for r in reports} == {omni_id}

    # Removed from the list, the number is sent to again.
    BlacklistApi(alice).delete_from_blacklist(to)
    again = _send(alice, to)
    wait_until(lambda: inbox(server, to), "the message after the removal")
    assert [m["omnimessage_id"] for m in inbox(server, to)] == [again]


# -- the command line ------------------------------------------------------------------------------


def test_cli_blacklist_commands(server: Server) -> None:
    number = new_to()
    digits = number.removeprefix("+")  # stored in E.164 all the same
    assert f"blacklisted {digits}" in ok(server, "blacklist", "add", digits)
    assert number in ok(server, "blacklist", "list").split()
    assert number in ok_json(server, "blacklist", "list")["phoneNumbers"]
    assert ok_json(server, "blacklist", "check", number) == {
        "phoneNumber": number,
        "blacklisted": True,
    }
    again = cli(server, "blacklist", "add", number)
    assert again.returncode == 1 and "204 (Conflict)" in again.stderr, again.stderr
    bad = cli(server, "blacklist", "add", "+1")
    assert bad.returncode == 1 and "201 (Invalid data)" in bad.stderr, bad.stderr
    assert "removed" in ok(server, "blacklist", "remove", number)
    gone = cli(server, "blacklist", "check", number)
    assert gone.returncode == 4 and "not blacklisted" in gone.stdout
    assert cli(server, "blacklist", "remove", number).returncode == 1


def test_cli_accounts_set_opt_out_options(server: Server) -> None:
    done = run_cli(
        "accounts",
        "set",
        "bob",
        "--opt-out-words",
        "Lõpeta, ARRÊT",
        "--opt-out-reply",
        "Bye",
        database=server.database,
    )
    assert "updated account bob" in done.stdout
    clash = run_cli(
        "accounts", "set", "bob", "--opt-in-words", "arret", database=server.database, check=False
    )
    assert clash.returncode == 2 and "both opt out and opt in" in clash.stderr
    empty = run_cli(
        "accounts", "set", "bob", "--opt-out-words", "a,,b", database=server.database, check=False
    )
    assert empty.returncode == 2 and "empty word" in empty.stderr


def test_every_refusal_under_the_phonebook_has_its_codes(server: Server) -> None:
    base = f"{server.url}/v1/phonebook/blacklist"
    wrong = _error(httpx.put(base, json={}, auth=server.auth, timeout=10), 405)
    assert (wrong["title"], wrong["code"]) == ("Client error", "244")
    nothing = _error(httpx.get(f"{base}/+37251234567/x", auth=server.auth, timeout=10), 404)
    assert (nothing["title"], nothing["code"]) == ("Missing resource", "203")
    denied = _error(httpx.get(base, auth=("alice", "nope"), timeout=10), 401)
    assert (denied["title"], denied["code"]) == ("Unauthorized", "202")
    bad_key = _post(server, b'{"phoneNumber": "+37251234567"}', **{"Idempotency-Key": "k" * 256})
    item = _error(bad_key, 400)
    assert (item["code"], item["source"]) == ("201", "Idempotency-Key")
