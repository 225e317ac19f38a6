"""Shared fixtures: fresh PostgreSQL databases for any test that needs one.

PostgreSQL comes from `TIDINGS_TEST_POSTGRES_URL` (default: the local server). A template database
is migrated once per session; each test gets `CREATE DATABASE ... TEMPLATE` of it, dropped after.
Without a server the PostgreSQL tests are skipped, except under CI, where that is a failure.
"""

from __future__ import annotations

import asyncio
import itertools
import os
from collections.abc import Iterator
from urllib.parse import urlsplit, urlunsplit

import asyncpg  # type: ignore[import-untyped]
import pytest

from tidings.store.migrate import migrate_postgresql
from tidings.store.urls import parse_database_url

DEFAULT_PG_URL = "postgresql://postgres@127.0.0.1:5432/test"
_counter = itertools.count()


def with_database(url: str, name: str) -> str:
    """The same server URL naming another database."""
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, "/" + name, parts.query, parts.fragment))


async def _admin(url: str, *statements: str) -> None:
    conn = await asyncpg.connect(parse_database_url(url).asyncpg_dsn, timeout=5)
    try:
        for sql in statements:
            await conn.execute(sql)
    finally:
        await conn.close()


@pytest.fixture(scope="session")
def pg_url() -> str:
    url = os.environ.get("TIDINGS_TEST_POSTGRES_URL", DEFAULT_PG_URL)
    try:
        asyncio.run(_admin(url, "SELECT 1"))
    except Exception as e:
        if os.environ.get("CI"):
            pytest.fail(
                f"PostgreSQL not reachable at {url} ({e}); CI must run the PostgreSQL tests:"
                " start it or set TIDINGS_TEST_POSTGRES_URL",
                pytrace=False,
            )
        pytest.skip(f"PostgreSQL not reachable at {url}; start it or set TIDINGS_TEST_POSTGRES_URL")
    return url


@pytest.fixture(scope="session")
def pg_template(pg_url: str) -> Iterator[str]:
    """A migrated database to copy: its name."""
    name = f"tidings_tmpl_{os.getpid()}"
    asyncio.run(_admin(pg_url, f"DROP DATABASE IF EXISTS {name}", f"CREATE DATABASE {name}"))
    try:
        asyncio.run(migrate_postgresql(parse_database_url(with_database(pg_url, name))))
        yield name
    finally:
        asyncio.run(_admin(pg_url, f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))


@pytest.fixture
def pg_database(pg_url: str, pg_template: str) -> Iterator[str]:
    """The URL of a fresh, migrated PostgreSQL database, dropped after the test."""
    name = f"tidings_t_{os.getpid()}_{next(_counter)}"
    asyncio.run(_admin(pg_url, f"CREATE DATABASE {name} TEMPLATE {pg_template}"))
    try:
        yield with_database(pg_url, name)
    finally:
        asyncio.run(_admin(pg_url, f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
