"""The named SQL (store/sql/*.sql, store/queries.py): every statement named is used, every name
used exists, and the files parse as documented."""

from __future__ import annotations

import importlib
import pkgutil
import re
from pathlib import Path

import pytest

import tidings.store
from tidings.store import queries
from tidings.store.queries import QUERIES, parse, query

STORE = Path(tidings.store.__file__).parent


def _import_store() -> None:
    for mod in pkgutil.iter_modules(tidings.store.__path__):
        if mod.name != "migrations":
            importlib.import_module(f"tidings.store.{mod.name}")


def test_every_statement_in_the_files_is_used() -> None:
    _import_store()
    assert set(QUERIES) - queries.used() == set()


def test_every_name_used_exists() -> None:
    names = {
        m
        for path in STORE.glob("*.py")
        for m in re.findall(r'\bquery\("([^"]+)"\)', path.read_text(encoding="utf-8"))
    }
    assert names, "the store names its statements with query(...)"
    assert names - set(QUERIES) == set()


def test_an_unknown_name_fails_loudly() -> None:
    with pytest.raises(KeyError, match="no query named 'no_such_query'"):
        query("no_such_query")


def test_every_statement_has_a_description() -> None:
    for file in ("common.sql", "sqlite.sql", "postgresql.sql"):
        text = (STORE / "sql" / file).read_text(encoding="utf-8")
        for m in re.finditer(r"^-- ([a-z0-9_.]+) --\n(.*)$", text, re.M):
            assert m.group(2).startswith("-- "), f"{file}: {m.group(1)} has no description"


def test_backend_overrides_and_markers() -> None:
    claim = QUERIES["claim_due"]
    assert claim.sqlite is not None and "SKIP LOCKED" not in claim.sqlite
    assert claim.postgresql is not None and "FOR UPDATE SKIP LOCKED" in claim.postgresql
    assert QUERIES["now_us"].sqlite is None  # SQLite's clock is the process's
    held = QUERIES["held_timers"]
    assert held.sqlite is not None and "json_each(?1)" in held.sqlite and "FOR" not in held.sqlite
    assert held.postgresql is not None and "= ANY($1::bigint[])" in held.postgresql
    assert held.postgresql.endswith("FOR UPDATE")


def test_unnest_forms_sit_beside_their_statement() -> None:
    batched = {q.name: q for q in QUERIES.values() if q.unnest is not None}
    assert {"set_omni", "insert_omnimessage", "finish_webhook"} <= set(batched)
    for q in batched.values():
        assert q.postgresql is not None
        n = max(int(p) for p in re.findall(r"\$(\d+)", q.postgresql))
        assert q.unnest is not None and f"${n}::" in q.unnest and f"${n + 1}" not in q.unnest
        assert all(0 <= k < n for k in q.distinct)
    assert batched["finish_webhook"].distinct == (0, 1)
    assert batched["drop_timer"].distinct == ()


def test_parse_rejects_a_statement_defined_twice_or_empty() -> None:
    with pytest.raises(ValueError, match="defined twice"):
        parse("-- a --\n-- x\nSELECT 1\n-- a --\n-- y\nSELECT 2\n")
    with pytest.raises(ValueError, match="no SQL"):
        parse("-- a --\n-- only a comment\n")
    parsed = parse("head\n-- a --\n-- what a does\n-- distinct: $2, $1\nSELECT $1, $2\n")
    assert parsed["a"].sql == "SELECT $1, $2" and parsed["a"].distinct == (1, 0)
