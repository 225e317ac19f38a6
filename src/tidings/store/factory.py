"""Open the store a database URL names (migrating it first)."""

from __future__ import annotations

from tidings.store.base import Store
from tidings.store.migrate import migrate_postgresql, migrate_sqlite
from tidings.store.urls import DatabaseUrl


async def open_store(db: DatabaseUrl, *, run_migrations: bool = True) -> Store:
    if db.kind == "sqlite":
        from tidings.store.sqlite import SqliteStore

        assert db.sqlite_path is not None
        if run_migrations:
            migrate_sqlite(db)
        return SqliteStore(db.sqlite_path)
    from tidings.store.postgres import PostgresStore  # type: ignore[import-not-found,unused-ignore]

    if run_migrations:
        await migrate_postgresql(db)
    store: Store = await PostgresStore.open(db.asyncpg_dsn)
    return store
