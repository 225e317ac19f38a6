"""The tiny SQL surface shared by both backends: a transaction runs named statements.

Statements are written once in PostgreSQL style (`$1` parameters) with markers that each backend
rewrites when the statements are loaded (queries.py): `IN_TEXT($n)` / `IN_BIGINT($n)` (membership
in a list parameter), `FOR_UPDATE` (row locks; SQLite has a single writer, so it needs none) and
`FOR_UPDATE_SKIP` (row locks that pass over rows another transaction holds).

Rows come back as mappings read by column name (`sqlite3.Row`, asyncpg's `Record`).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Coroutine, Sequence
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

if TYPE_CHECKING:
    from tidings.store.queries import Query

T = TypeVar("T")

_IN = re.compile(r"IN_(TEXT|BIGINT)\(\$(\d+)\)")
_PARAM = re.compile(r"\$(\d+)")


class Row(Protocol):
    """One result row: `row["column"]` (and `row[0]` for a single-value read)."""

    def __getitem__(self, key: str | int, /) -> Any: ...


class Tx(Protocol):
    """One open transaction."""

    async def fetch(self, query: Query, *args: object) -> list[Row]: ...

    async def execute(self, query: Query, *args: object) -> int:
        """Run a statement; return the number of rows it changed."""
        ...

    async def executemany(self, query: Query, rows: Sequence[Sequence[object]]) -> None: ...


Script = Callable[[Tx], Coroutine[Any, Any, T]]


class Runner(Protocol):
    """What the ports need of a backend: transactions and the reference clock."""

    kind: str

    async def transact(self, script: Script[T], *, urgent: bool = False) -> T: ...

    async def query(self, script: Script[T]) -> T: ...

    async def now_us(self) -> int: ...


def to_sqlite(sql: str) -> str:
    sql = _IN.sub(lambda m: f"IN (SELECT value FROM json_each(${m.group(2)}))", sql)
    sql = sql.replace("FOR_UPDATE_SKIP", "").replace("FOR_UPDATE", "")
    return _PARAM.sub(lambda m: f"?{m.group(1)}", sql)


def to_postgres(sql: str) -> str:
    types = {"TEXT": "text", "BIGINT": "bigint"}
    sql = _IN.sub(lambda m: f"= ANY(${m.group(2)}::{types[m.group(1)]}[])", sql)
    sql = sql.replace("FOR_UPDATE_SKIP", "FOR UPDATE SKIP LOCKED")
    return sql.replace("FOR_UPDATE", "FOR UPDATE")
