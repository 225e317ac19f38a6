"""The store's SQL, loaded by name from `sql/common.sql`, `sql/sqlite.sql` and `sql/postgresql.sql`.

Each statement in those files is introduced by a `-- name --` line and a comment saying what it
does. A statement in a backend's file overrides the common one of the same name for that backend;
`name.unnest` in postgresql.sql is the set-based form of `name` for a batch (see that file).

Modules name the statements they run at import, `LOAD = query("load_omnis")`, so an unknown name
fails the import; every statement the files hold must be named somewhere (tests/unit/test_queries.py).
The files are read once, on first import, and each statement is rewritten for its backend then
(tx.py), so running one costs an attribute read.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from importlib.resources import files

from tidings.store.tx import to_postgres, to_sqlite

_NAME = re.compile(r"^-- ([a-z0-9_]+(?:\.unnest)?) --$")
_DISTINCT = re.compile(r"^-- distinct: (\$\d+(?:, \$\d+)*)$")
BACKENDS = ("sqlite", "postgresql")


@dataclass(frozen=True, slots=True)
class Query:
    """One named statement as each backend runs it (None: that backend has no such statement)."""

    name: str
    sqlite: str | None
    postgresql: str | None
    unnest: str | None = None  # PostgreSQL: the whole batch in one statement
    distinct: tuple[int, ...] = ()  # 0-based: the parameters a batch must not repeat for `unnest`


@dataclass(frozen=True, slots=True)
class _Text:
    sql: str
    distinct: tuple[int, ...]


def parse(text: str, source: str = "<sql>") -> dict[str, _Text]:
    """The named statements of one file. Comment lines right after a name describe it; the file's
    head (before the first name) is commentary."""
    out: dict[str, _Text] = {}
    name: str | None = None
    body: list[str] = []
    distinct: tuple[int, ...] = ()

    def close() -> None:
        if name is None:
            return
        sql = "\n".join(body).strip()
        if not sql:
            raise ValueError(f"{source}: query {name!r} has no SQL")
        out[name] = _Text(sql, distinct)

    for line in text.splitlines():
        if m := _NAME.match(line.strip()):
            close()
            name, body, distinct = m.group(1), [], ()
            if name in out:
                raise ValueError(f"{source}: query {name!r} is defined twice")
            continue
        if name is None:
            continue
        stripped = line.strip()
        if not body and stripped.startswith("--"):
            if d := _DISTINCT.match(stripped):
                distinct = tuple(int(p.strip()[1:]) - 1 for p in d.group(1).split(","))
            continue  # the statement's description
        if body or stripped:
            body.append(line)
    close()
    return out


def _read(file: str) -> dict[str, _Text]:
    text = files("tidings.store").joinpath("sql", file).read_text(encoding="utf-8")
    return parse(text, f"store/sql/{file}")


def load() -> dict[str, Query]:
    common, lite, pg = _read("common.sql"), _read("sqlite.sql"), _read("postgresql.sql")
    out: dict[str, Query] = {}
    for name in sorted(common.keys() | lite.keys() | pg.keys()):
        if name.endswith(".unnest"):
            if name not in pg or name.removesuffix(".unnest") not in common.keys() | pg.keys():
                raise ValueError(
                    f"{name!r}: an unnest form belongs in postgresql.sql, beside its statement"
                )
            continue
        s, p = lite.get(name, common.get(name)), pg.get(name, common.get(name))
        bulk = pg.get(f"{name}.unnest")
        out[name] = Query(
            name,
            None if s is None else to_sqlite(s.sql),
            None if p is None else to_postgres(p.sql),
            None if bulk is None else to_postgres(bulk.sql),
            () if bulk is None else bulk.distinct,
        )
    return out


QUERIES = load()
_used: set[str] = set()


def query(name: str) -> Query:
    """The statement named `name`; a KeyError (at the caller's import) when there is none."""
    try:
        q = QUERIES[name]
    except KeyError:
        raise KeyError(f"no query named {name!r} in store/sql/*.sql") from None
    _used.add(name)
    return q


def used() -> frozenset[str]:
    """The names asked for so far (by the modules imported so far)."""
    return frozenset(_used)


def adhoc(sql: str) -> Query:
    """A statement not in the files, for tests and tools that inspect a database directly."""
    return Query("<adhoc>", to_sqlite(sql), to_postgres(sql))
