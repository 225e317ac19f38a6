"""Schema migrations with Alembic, applied on start and by `tidings migrate`."""

from __future__ import annotations

import asyncio
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import create_engine, text
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import create_async_engine

from tidings.store.urls import DatabaseUrl

_MIGRATIONS = Path(__file__).parent / "migrations"
# Any constant: serialises concurrent `serve`/`worker` starts on one PostgreSQL.
_PG_MIGRATION_LOCK = 7_233_112_001


def _alembic_config(connection: Connection) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(_MIGRATIONS))
    cfg.attributes["connection"] = connection
    return cfg


def _upgrade(connection: Connection) -> None:
    command.upgrade(_alembic_config(connection), "head")


def migrate_sqlite(db: DatabaseUrl) -> None:
    assert db.sqlite_path is not None
    db.sqlite_path.parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(db.sqlalchemy_url)
    try:
        with engine.begin() as conn:
            conn.execute(text("PRAGMA journal_mode=WAL"))
        with engine.connect() as conn:
            _upgrade(conn)
            conn.commit()
    finally:
        engine.dispose()


async def migrate_postgresql(db: DatabaseUrl) -> None:
    engine = create_async_engine(db.sqlalchemy_url)
    try:
        async with engine.connect() as conn:
            await conn.execute(text(f"SELECT pg_advisory_lock({_PG_MIGRATION_LOCK})"))
            await conn.commit()
            try:
                await conn.run_sync(_upgrade)
                await conn.commit()
            finally:
                await conn.execute(text(f"SELECT pg_advisory_unlock({_PG_MIGRATION_LOCK})"))
                await conn.commit()
    finally:
        await engine.dispose()


def migrate(db: DatabaseUrl) -> None:
    """Bring the schema to the newest revision (safe to run from many processes at once)."""
    if db.kind == "sqlite":
        migrate_sqlite(db)
    else:
        asyncio.run(migrate_postgresql(db))
