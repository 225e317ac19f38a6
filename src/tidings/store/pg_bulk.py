"""PostgreSQL: run a one-row statement for many rows as one set-based statement.

The shared scripts write batches as `executemany` of a one-row INSERT, UPDATE or DELETE (SQLite,
in process, runs those fast). On PostgreSQL every row would be a statement of its own on the
server; a batch of 2 000 rows in five statements is 10 000 executions. Here the same SQL is
rewritten to read its parameters from `unnest` of one array per parameter:

    UPDATE t SET a = $2 WHERE id = $1
 -> UPDATE t SET a = v.p2 FROM unnest($1::text[], $2::int4[]) AS v(p1, p2) WHERE id = v.p1

Set-based and row-by-row agree only when no target row is matched by two parameter rows (the
row-by-row form would apply both, in order; an INSERT ... ON CONFLICT DO UPDATE would fail).
So the rewrite is used only when the WHERE clause (or the conflict target) is a conjunction of
`column = $n` tests whose parameter tuples are distinct in the batch; otherwise the caller falls
back to `executemany`. Statements of any other shape are never rewritten.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

_PARAM = re.compile(r"\$(\d+)")
_UPDATE = re.compile(r"^UPDATE (\w+) SET (.+?) WHERE (.+)$", re.S)
_DELETE = re.compile(r"^DELETE FROM (\w+) WHERE (.+)$", re.S)
_INSERT = re.compile(
    r"^INSERT INTO (\w+) \(([^)]*)\) VALUES \(([^()]*)\)"
    r"(?: ON CONFLICT \(([^)]*)\) (DO UPDATE SET .+|DO NOTHING))?$",
    re.S,
)
_EQ_PARAM = re.compile(r"^(\w+) = \$(\d+)$")


@dataclass(frozen=True, slots=True)
class BulkForm:
    """A set-based form of one statement: `render(types)` gives its SQL for the parameter types;
    `key` lists the (1-based) parameters whose tuples must be distinct within a batch."""

    head: str  # the statement up to the parameter rows, ending in FROM or USING
    tail: str  # the rest, with $n replaced by v.pn
    n_params: int
    key: tuple[int, ...]

    def render(self, types: Sequence[str]) -> str:
        arrays = ", ".join(f"${i + 1}::{t}[]" for i, t in enumerate(types))
        cols = ", ".join(f"p{i + 1}" for i in range(self.n_params))
        return f"{self.head} unnest({arrays}) AS v({cols}){self.tail}"

    def distinct(self, rows: Sequence[Sequence[object]]) -> bool:
        if not self.key:
            return True
        if len(self.key) == 1:
            k = self.key[0] - 1
            return len({r[k] for r in rows}) == len(rows)
        return len({tuple(r[i - 1] for i in self.key) for r in rows}) == len(rows)


def _v(sql: str) -> str:
    return _PARAM.sub(lambda m: f"v.p{m.group(1)}", sql)


def _params(sql: str) -> set[int]:
    return {int(m) for m in _PARAM.findall(sql)}


def _equality_key(where: str) -> tuple[int, ...] | None:
    """The parameters of a WHERE clause made of `column = $n` tests and parameter-free tests,
    joined by AND; None for anything else (an OR, or a parameter inside an expression)."""
    if re.search(r"\bOR\b", where, re.I):
        return None
    key: list[int] = []
    for part in re.split(r"\s+AND\s+", where.strip(), flags=re.I):
        if not _params(part):
            continue
        m = _EQ_PARAM.match(part.strip())
        if m is None:
            return None
        key.append(int(m.group(2)))
    return tuple(key)


def _split_list(text: str) -> list[str]:
    return [p.strip() for p in text.split(",")]


def bulk_form(sql: str) -> BulkForm | None:
    """The set-based form of `sql`, or None when it has no safe one."""
    sql = " ".join(sql.split())
    n = max(_params(sql), default=0)
    if n == 0:
        return None
    if m := _UPDATE.match(sql):
        table, sets, where = m.groups()
        where_key = _equality_key(where)
        if not where_key:
            return None
        return BulkForm(f"UPDATE {table} SET {_v(sets)} FROM", f" WHERE {_v(where)}", n, where_key)
    if m := _DELETE.match(sql):
        table, where = m.groups()
        if _equality_key(where) is None:
            return None
        # Deleting a row twice deletes it once, as row by row: no key needed.
        return BulkForm(f"DELETE FROM {table} USING", f" WHERE {_v(where)}", n, ())
    if m := _INSERT.match(sql):
        table, cols, values, conflict, action = m.groups()
        names, exprs = _split_list(cols), _split_list(values)
        if len(names) != len(exprs):
            return None
        key: tuple[int, ...] = ()
        if conflict is not None:
            by_name = dict(zip(names, exprs, strict=True))
            conflict_key: list[int] = []
            for col in _split_list(conflict):
                expr = by_name.get(col, "")
                if not (pm := re.fullmatch(r"\$(\d+)", expr)):
                    return None
                conflict_key.append(int(pm.group(1)))
            key = tuple(conflict_key)
        tail = f" ON CONFLICT ({conflict}) {action}" if conflict is not None else ""
        return BulkForm(f"INSERT INTO {table} ({cols}) SELECT {_v(values)} FROM", tail, n, key)
    return None
