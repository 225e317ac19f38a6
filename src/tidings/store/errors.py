"""What a failed write means, told apart by the store (which knows its drivers' errors)."""

from __future__ import annotations

import sqlite3

import asyncpg  # type: ignore[import-untyped]

SQLITE_FULL = 13  # "database or disk is full"

# The driver errors a full database is raised as (others of these classes are real failures).
STORAGE_ERRORS: tuple[type[Exception], ...] = (
    sqlite3.OperationalError,
    asyncpg.exceptions.DiskFullError,
)


def is_storage_full(exc: BaseException) -> bool:
    """The database has no room left: nothing of the failed transaction was stored, and trying
    again once space is freed will work. Not a bug, so not a 500."""
    if isinstance(exc, sqlite3.OperationalError):
        return getattr(exc, "sqlite_errorcode", None) == SQLITE_FULL
    return isinstance(exc, asyncpg.exceptions.DiskFullError)
