"""Schema fuzzing: schemathesis generates requests from the server's OpenAPI document (valid and
invalid data, NUL characters included), sends them to every operation of the running server, then
follows the document's links (send → status, send → cancel → status) in stateful sequences.
Whatever it sends, the answer is never a 5xx, and every 4xx is in the Messente error format.

The document is loaded in-process, so pytest can list one test per operation at collection time
(schemathesis' lazy fixture loader does not work with pytest 9.2); the first test checks that the
server serves exactly that document at `/openapi.json`. Examples are bounded: about 550 requests
and 40 s of CPU; the number of requests sent is printed at the end."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis import Case, Response

from tests.e2e.conftest import _running_server
from tests.e2e.server import Server
from tidings.web.api.openapi import openapi_document

ERROR_TITLES = {
    "101": "Not found",
    "102": "Forbidden",
    "103": "Unauthorized",
    "104": "Internal Server Error",
    "105": "Invalid data",
    "106": "Missing data",
    "107": "Method not allowed",
}
# The Phonebook endpoints answer with Messente's Phonebook pairs (ErrorPhonebook).
PHONEBOOK_TITLES = {
    "201": "Invalid data",
    "202": "Unauthorized",
    "203": "Missing resource",
    "204": "Conflict",
    "244": "Client error",
    "205": "General error",
}
# Webhooks to a fuzzed `dlr_url` would go out to the internet: every string `dlr_url` is turned
# into this loopback address, which the SSRF guard refuses at once (a 400 on `dlr_url`).
LOOPBACK_DLR = "http://127.0.0.1:9/dlr"

# The stateful sends get a valid recipient (a random `to` is almost never a possible number) and
# a `time_to_send` an hour ahead, so that most succeed and their links lead somewhere: to a
# status (200), and to a cancel that must succeed (202) since nothing has been sent yet.
RECIPIENTS = ("+37251234567", "+37255512345", "+4915123456789", "+447700900123")

FUZZED: Counter[str] = Counter()  # requests sent, per operation (and "stateful")
LINKED: Counter[str] = Counter()  # status/cancel calls on an id that a send answered with
SENT_IDS: set[str] = set()
SEND = "POST /v1/omnimessage"
STATUS = "GET /v1/omnimessage/{omnimessageId}/status"
CANCEL = "DELETE /v1/omnimessage/{omnimessageId}"
INSPECT = "GET /v1/omnimessage/{omnimessageId}"  # extension, reached by an inferred link
RESCHEDULE = "PATCH /v1/omnimessage/{omnimessageId}"  # extension, likewise
CANCELLED_IDS: set[str] = set()
CANCEL = "DELETE /v1/omnimessage/{omnimessageId}"


@pytest.fixture(scope="module")
def fuzz_server(
    tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest
) -> Iterator[Server]:
    workdir: Path = tmp_path_factory.mktemp("schema-fuzz")
    yield from _running_server(workdir, f"sqlite:///{workdir / 'tidings.db'}")
    if FUZZED:  # shown even when output is captured
        per_op = ", ".join(f"{op}: {n}" for op, n in sorted(FUZZED.items()))
        capture = request.config.pluginmanager.getplugin("capturemanager")
        with capture.global_and_fixture_disabled():
            print(
                f"\nschema fuzzing: {sum(FUZZED.values())} requests ({per_op});"
                f" through links: {dict(LINKED)} from {len(SENT_IDS)} sends"
            )


CONFIG = schemathesis.Config.from_dict(
    {
        "generation": {"mode": "all", "allow-x00": True, "max-examples": 60},
        # The coverage phase enumerates every boundary the schema defines: for the two send
        # bodies (every channel's every field) that is hundreds of requests each, so they are
        # left to the examples and the bounded random phase; the other operations get all three.
        "operations": [
            {
                "include-operation-id": ["sendOmnimessage", "sendBulkOmnimessage"],
                "phases": {"coverage": {"enabled": False}},
            },
        ],
    }
)
schema = schemathesis.openapi.from_dict(openapi_document(), config=CONFIG)


def test_the_server_serves_the_fuzzed_document(fuzz_server: Server) -> None:
    with fuzz_server.client() as c:
        assert c.get("/openapi.json").json() == openapi_document()


def _tame(case: Case) -> None:
    """Keep webhooks on this machine: see LOOPBACK_DLR."""
    bodies: list[Any] = [case.body]
    if isinstance(case.body, dict) and isinstance(case.body.get("messages"), list):
        bodies.extend(case.body["messages"])  # the items of a bulk request
    for body in bodies:
        if isinstance(body, dict) and isinstance(body.get("dlr_url"), str):
            body["dlr_url"] = LOOPBACK_DLR


def assert_answer(response: Response, case: Case) -> None:
    """No 5xx; every 4xx in the Messente error format, as JSON."""
    what = f"{case.operation.label}: {case.as_curl_command()}\n-> {response.status_code} {response.text[:500]}"
    assert response.status_code < 500, what
    if response.status_code < 400:
        return
    assert response.headers.get("content-type", [""])[0].startswith("application/json"), what
    body = response.json()
    assert isinstance(body, dict) and set(body) == {"errors"}, what
    assert isinstance(body["errors"], list) and body["errors"], what
    phonebook = case.operation.path.startswith("/v1/phonebook/")
    titles = PHONEBOOK_TITLES if phonebook else ERROR_TITLES
    for item in body["errors"]:
        assert isinstance(item, dict) and set(item) == {"title", "detail", "code", "source"}, what
        assert titles.get(item["code"]) == item["title"], what
        assert isinstance(item["detail"], str) and item["detail"], what
        assert item["source"] is None or isinstance(item["source"], str), what
        if phonebook and response.status_code == 409 and item["source"] is None:
            assert item["code"] == "204", what  # already listed
        elif response.status_code in (409, 422):  # the Idempotency-Key extension's answers
            assert item["source"] == "Idempotency-Key", what
        elif response.status_code != 400:
            assert item["source"] is None, what


@pytest.mark.timeout(300)  # generation is CPU-bound: room for a machine shared with others
@schema.parametrize()
@settings(
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=list(HealthCheck),
)
def test_every_operation(case: Case, fuzz_server: Server) -> None:
    _tame(case)
    response = case.call(base_url=fuzz_server.url, auth=fuzz_server.auth, timeout=30)
    FUZZED[case.operation.label] += 1
    assert_answer(response, case)


@pytest.fixture
def linked_sequences(fuzz_server: Server) -> type[Any]:
    linked = ["sendOmnimessage", "retrieveDeliveryReport", "cancelScheduledMessage"]
    base: type[Any] = schema.include(operation_id=linked).as_state_machine()

    class Sequences(base):  # type: ignore[misc, valid-type]
        def before_call(self, case: Case) -> None:
            _tame(case)
            # The sequences follow the Messente flow; Idempotency-Key (an extension: a fuzzed
            # key reused on another request is a 422) is fuzzed by test_every_operation.
            if case.headers:
                case.headers.pop("Idempotency-Key", None)
            if case.operation.label == SEND and isinstance(case.body, dict):
                case.body["to"] = RECIPIENTS[len(SENT_IDS) % len(RECIPIENTS)]
                later = datetime.now(UTC) + timedelta(hours=1)
                case.body["time_to_send"] = later.isoformat(timespec="seconds")

        def get_call_kwargs(self, case: Case) -> dict[str, Any]:
            return {"base_url": fuzz_server.url, "auth": fuzz_server.auth, "timeout": 30}

        def validate_response(self, response: Response, case: Case, **kwargs: Any) -> None:
            FUZZED["stateful"] += 1
            assert_answer(response, case)
            label = case.operation.label
            if label == SEND and response.status_code == 201:
                SENT_IDS.add(response.json()["omnimessage_id"])
            elif (case.path_parameters or {}).get("omnimessageId") in SENT_IDS:
                omni_id = (case.path_parameters or {})["omnimessageId"]
                LINKED[label] += 1
                # A scheduled message has a status and its whole record, can be cancelled (again
                # and again), and rescheduled (a fuzzed body may be refused) until cancelled.
                expected: set[int] = {200} if label in (STATUS, INSPECT) else {202}
                if label == RESCHEDULE:
                    # The body is read first: a fuzzed body is refused as such (400/415) either
                    # way; a valid one after a cancel is a 404, never a 200.
                    expected = {404, 400, 415} if omni_id in CANCELLED_IDS else {200, 400, 415}
                assert response.status_code in expected, (label, response.text)
                if label == CANCEL:
                    CANCELLED_IDS.add(omni_id)

    return Sequences


@pytest.mark.timeout(300)
def test_send_status_cancel_sequences(linked_sequences: type[Any]) -> None:
    linked_sequences.run(
        settings=settings(
            max_examples=30,
            stateful_step_count=4,
            deadline=None,
            derandomize=True,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
    )
    # The links were followed: ids from real send answers reached status and cancel.
    assert LINKED[STATUS] > 0 and LINKED[CANCEL] > 0, (LINKED, len(SENT_IDS))
