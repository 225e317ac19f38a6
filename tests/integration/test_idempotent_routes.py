"""The generic `idempotent(...)` wrapper on routes of its own (the app over a real store, both
backends): which answers are kept, and that a route opts in with one line."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import httpx
import pytest
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from tidings import runtime
from tidings.core.errors import INVALID
from tidings.store.base import Store
from tidings.store.urls import parse_database_url
from tidings.web.api.idempotency import idempotent
from tidings.web.app import create_app
from tidings.web.auth import Authenticator
from tidings.web.context import ApiContext, ApiSettings
from tidings.web.errors import error, not_found, too_many
from tidings.web.responses import json_response

KEY = "Idempotency-Key"


@dataclass
class Acts:
    """A route that acts (counts) and answers what the test asks for."""

    calls: int = 0
    answers: list[str] = field(default_factory=list)

    async def handle(self, request: Request) -> Response:
        self.calls += 1
        what = self.answers.pop(0) if self.answers else "ok"
        if what == "crash":
            raise RuntimeError("a bug")
        if what == "400":
            raise error(400, INVALID, "bad", "field")
        if what == "404":
            raise not_found()
        if what == "429":
            raise too_many(1, "slow down")
        return json_response({"call": self.calls}, 200, {"X-Extra": "kept"})


@pytest.fixture
async def client(store: Store, database_url: str) -> AsyncIterator[tuple[httpx.AsyncClient, Acts]]:
    await runtime.create_account(store, "alice", "alice-secret-pw")
    settings = runtime.ServeSettings(database=parse_database_url(database_url))
    engine = runtime.build_engine(store, settings)
    app = create_app(
        ApiContext(engine, store, Authenticator(store), ApiSettings()), manage_engine=False
    )
    acts = Acts()
    app.router.routes.insert(0, Route("/v1/acts", idempotent(acts.handle), methods=["POST"]))
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app, raise_app_exceptions=False),
        base_url="http://tidings.test",
        auth=("alice", "alice-secret-pw"),
    ) as c:
        yield c, acts


async def test_an_answer_is_kept_with_its_headers(
    client: tuple[httpx.AsyncClient, Acts],
) -> None:
    c, acts = client
    first = await c.post("/v1/acts", json={"a": 1}, headers={KEY: "k"})
    again = await c.post("/v1/acts", json={"a": 1}, headers={KEY: "k"})
    assert (first.status_code, again.status_code, acts.calls) == (200, 200, 1)
    assert again.content == first.content and again.headers["x-extra"] == "kept"
    assert again.headers["idempotent-replayed"] == "true"
    other = await c.post("/v1/acts", json={"a": 2}, headers={KEY: "k"})
    assert other.status_code == 422 and acts.calls == 1
    assert other.json()["errors"][0]["source"] == KEY


@pytest.mark.parametrize("refusal", ["400", "404"])
async def test_a_refusal_is_kept(client: tuple[httpx.AsyncClient, Acts], refusal: str) -> None:
    c, acts = client
    acts.answers = [refusal]
    first = await c.post("/v1/acts", json={}, headers={KEY: "k"})
    again = await c.post("/v1/acts", json={}, headers={KEY: "k"})
    assert first.status_code == again.status_code == int(refusal)
    assert again.content == first.content and acts.calls == 1


@pytest.mark.parametrize(("failure", "status"), [("crash", 500), ("429", 429)])
async def test_a_server_error_or_429_is_not_kept(
    client: tuple[httpx.AsyncClient, Acts], failure: str, status: int
) -> None:
    c, acts = client
    acts.answers = [failure]
    first = await c.post("/v1/acts", json={}, headers={KEY: "k"})
    assert first.status_code == status
    retry = await c.post("/v1/acts", json={}, headers={KEY: "k"})
    assert retry.status_code == 200 and "idempotent-replayed" not in retry.headers
    assert acts.calls == 2  # the retry acted


async def test_without_the_header_nothing_is_kept(
    client: tuple[httpx.AsyncClient, Acts], store: Store
) -> None:
    c, acts = client
    for _ in range(2):
        assert (await c.post("/v1/acts", json={})).status_code == 200
    assert acts.calls == 2
    assert await store.idempotency.get(1, "k") is None
