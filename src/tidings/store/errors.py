"""What a failed write means, told apart by the store (which knows its drivers' errors)."""

from __future__ import annotations

import logging
import sqlite3
import sys

import asyncpg  # type: ignore[import-untyped]

SQLITE_FULL = 13  # "database or disk is full"


class DatabaseUnreachable(Exception):
    """Opening a connection to the database failed at the network level (refused, reset, timed
    out): it is down, restarting or out of reach. The store raises this in place of the bare
    OSError, which could have come from anywhere."""


# The database cannot be reached right now: a connection could not be opened, was lost in the
# middle of a statement, or the server is starting up or shutting down.
_UNAVAILABLE: tuple[type[Exception], ...] = (
    DatabaseUnreachable,
    asyncpg.exceptions.PostgresConnectionError,  # SQLSTATE class 08
    asyncpg.exceptions.CannotConnectNowError,  # 57P03: starting up, in recovery
    asyncpg.exceptions.AdminShutdownError,  # 57P01
    asyncpg.exceptions.CrashShutdownError,  # 57P02
)

# The driver errors a full or unavailable database is raised as (others of these classes are
# real failures).
STORAGE_ERRORS: tuple[type[Exception], ...] = (
    sqlite3.OperationalError,
    asyncpg.exceptions.DiskFullError,
    asyncpg.exceptions.InterfaceError,
    *_UNAVAILABLE,
)


def is_storage_full(exc: BaseException) -> bool:
    """The database has no room left: nothing of the failed transaction was stored, and trying
    again once space is freed will work. Not a bug, so not a 500."""
    if isinstance(exc, sqlite3.OperationalError):
        return getattr(exc, "sqlite_errorcode", None) == SQLITE_FULL
    return isinstance(exc, asyncpg.exceptions.DiskFullError)


def is_storage_unavailable(exc: BaseException) -> bool:
    """The database could not be reached, or the connection broke: try again shortly. A write
    whose connection broke while committing may have been stored or not.

    asyncpg reports an operation on a connection already lost, and a transaction ending on one,
    as a plain InterfaceError ("connection is closed"), raised while handling the loss."""
    if isinstance(exc, _UNAVAILABLE):
        return True
    if isinstance(exc, asyncpg.exceptions.InterfaceError):
        if "connection is closed" in str(exc):
            return True
        cause = exc.__cause__ or exc.__context__
        return cause is not None and is_storage_unavailable(cause)
    return False


def log_failure(logger: logging.Logger, msg: str, *args: object) -> None:
    """Log the exception being handled (call it in an `except` block). A database that is away
    is an expected condition that every retry meets again while it lasts: one line, no
    traceback. Anything else is logged with its traceback."""
    exc = sys.exc_info()[1]
    if exc is not None and is_storage_unavailable(exc):
        logger.warning(msg + " error=%s: %s", *args, type(exc).__name__, exc)
    else:
        logger.exception(msg, *args)
