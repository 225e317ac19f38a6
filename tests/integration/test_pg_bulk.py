"""executemany on both backends: the PostgreSQL set-based rewrite changes what row-by-row would."""

from __future__ import annotations

from tidings.store.base import Store


async def _table(store: Store) -> None:
    async with store.write() as tx:
        await tx.execute(
            "CREATE TABLE bulk_t (id TEXT PRIMARY KEY, n INTEGER NOT NULL, note TEXT, at_us BIGINT)"
        )


async def _rows(store: Store) -> list[tuple[object, ...]]:
    async with store.read() as tx:
        return [
            tuple(r) for r in await tx.fetch("SELECT id, n, note, at_us FROM bulk_t ORDER BY id")
        ]


async def test_insert_update_delete_many(store: Store) -> None:
    await _table(store)
    async with store.write() as tx:
        await tx.executemany(
            "INSERT INTO bulk_t (id, n, note, at_us) VALUES ($1, $2, $3, $4)",
            [("a", 1, None, 10), ("b", 2, "é🙂", None), ("c", 3, "x", 2**40)],
        )
    async with store.write() as tx:
        await tx.executemany(
            "UPDATE bulk_t SET n = n + $2, note = COALESCE($3, note) WHERE id = $1",
            [("a", 10, "set"), ("b", 20, None), ("zz", 5, "no such row")],
        )
        await tx.executemany("DELETE FROM bulk_t WHERE id = $1", [("c",), ("c",), ("q",)])
    assert await _rows(store) == [("a", 11, "set", 10), ("b", 22, "é🙂", None)]


async def test_repeated_keys_apply_in_order_as_row_by_row(store: Store) -> None:
    await _table(store)
    async with store.write() as tx:
        await tx.executemany(
            "INSERT INTO bulk_t (id, n) VALUES ($1, $2) ON CONFLICT (id) DO UPDATE"
            " SET n = bulk_t.n + 1",
            [("a", 0), ("a", 0), ("b", 5), ("a", 0)],
        )
        await tx.executemany(
            "UPDATE bulk_t SET n = n * $2 WHERE id = $1", [("b", 2), ("b", 3), ("a", 1)]
        )
    assert await _rows(store) == [("a", 2, None, None), ("b", 30, None, None)]
