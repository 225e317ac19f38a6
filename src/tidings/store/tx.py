"""The tiny SQL surface shared by both backends.

SQL is written once in PostgreSQL style (`$1` parameters) with two markers that each adapter
rewrites: `IN_TEXT($n)` / `IN_BIGINT($n)` (membership in a list parameter), `FOR_UPDATE` (row
locks; SQLite has a single writer, so it needs none) and `FOR_UPDATE_SKIP` (row locks that pass
over rows another transaction holds).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from functools import lru_cache
from typing import Any, Protocol

Row = Sequence[Any]

_IN = re.compile(r"IN_(TEXT|BIGINT)\(\$(\d+)\)")
_PARAM = re.compile(r"\$(\d+)")


class Tx(Protocol):
    """One open transaction."""

    async def fetch(self, sql: str, *args: object) -> list[Row]: ...

    async def execute(self, sql: str, *args: object) -> int:
        """Run a statement; return the number of rows it changed."""
        ...

    async def executemany(self, sql: str, rows: Sequence[Sequence[object]]) -> None: ...


@lru_cache(maxsize=512)
def to_sqlite(sql: str) -> str:
    sql = _IN.sub(lambda m: f"IN (SELECT value FROM json_each(${m.group(2)}))", sql)
    sql = sql.replace("FOR_UPDATE_SKIP", "").replace("FOR_UPDATE", "")
    return _PARAM.sub(lambda m: f"?{m.group(1)}", sql)


@lru_cache(maxsize=512)
def to_postgres(sql: str) -> str:
    types = {"TEXT": "text", "BIGINT": "bigint"}
    sql = _IN.sub(lambda m: f"= ANY(${m.group(2)}::{types[m.group(1)]}[])", sql)
    sql = sql.replace("FOR_UPDATE_SKIP", "FOR UPDATE SKIP LOCKED")
    return sql.replace("FOR_UPDATE", "FOR UPDATE")
