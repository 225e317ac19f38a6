"""Fixtures for store tests: each runs on a fresh SQLite file and a fresh PostgreSQL database."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tidings.store.base import Store
from tidings.store.factory import open_store
from tidings.store.urls import parse_database_url


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A fresh database of each kind: a new SQLite file, or a new PostgreSQL database."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'tidings.db'}"
    url: str = request.getfixturevalue("pg_database")
    return url


@pytest.fixture
async def store(database_url: str) -> AsyncIterator[Store]:
    """An opened (and migrated) store over a fresh database, for each backend."""
    s = await open_store(parse_database_url(database_url))
    try:
        yield s
    finally:
        await s.close()
