"""Which driver errors mean "the database is away" (a 503 to retry, a one-line log), and which
are real failures."""

from __future__ import annotations

import logging
import sqlite3

import asyncpg  # type: ignore[import-untyped]
import pytest

from tidings.store.errors import (
    DatabaseUnreachable,
    is_storage_full,
    is_storage_unavailable,
    log_failure,
)


def _raised_while_handling(outer: Exception, inner: Exception) -> Exception:
    try:
        try:
            raise inner
        except Exception:
            raise outer  # noqa: B904 (the implicit context is the point)
    except Exception as e:
        return e


@pytest.mark.parametrize(
    "exc",
    [
        DatabaseUnreachable("cannot reach the database: ConnectionRefusedError(111)"),
        asyncpg.exceptions.ConnectionDoesNotExistError("connection was closed"),
        asyncpg.exceptions.CannotConnectNowError("the database system is starting up"),
        asyncpg.exceptions.AdminShutdownError("terminating connection"),
        asyncpg.exceptions.InterfaceError("connection is closed"),
        _raised_while_handling(
            asyncpg.exceptions.InterfaceError("cannot call Transaction.__aexit__()"),
            asyncpg.exceptions.ConnectionDoesNotExistError("connection was closed"),
        ),
    ],
)
def test_the_database_being_away_is_unavailable(exc: Exception) -> None:
    assert is_storage_unavailable(exc)
    assert not is_storage_full(exc)


@pytest.mark.parametrize(
    "exc",
    [
        ConnectionRefusedError(111, "a webhook target, not the database"),
        asyncpg.exceptions.UniqueViolationError("duplicate key"),
        asyncpg.exceptions.QueryCanceledError("statement timeout"),
        asyncpg.exceptions.InterfaceError(
            "cannot perform operation: another operation is in progress"
        ),
        asyncpg.exceptions.DiskFullError("could not extend file"),
        sqlite3.OperationalError("database is locked"),
        _raised_while_handling(
            asyncpg.exceptions.InterfaceError("another operation is in progress"),
            asyncpg.exceptions.UniqueViolationError("duplicate key"),
        ),
    ],
)
def test_other_errors_are_not(exc: Exception) -> None:
    assert not is_storage_unavailable(exc)


def test_an_absent_database_is_logged_in_one_line_anything_else_with_its_traceback(
    caplog: pytest.LogCaptureFixture,
) -> None:
    log = logging.getLogger("tidings.test")
    with caplog.at_level(logging.INFO, logger="tidings.test"):
        try:
            raise asyncpg.exceptions.CannotConnectNowError("the database system is starting up")
        except Exception:
            log_failure(log, "action=claim_failed count=%d", 3)
        try:
            raise ValueError("a bug")
        except Exception:
            log_failure(log, "action=claim_failed count=%d", 4)
    away, bug = caplog.records
    assert away.levelno == logging.WARNING and away.exc_info is None
    assert away.getMessage() == (
        "action=claim_failed count=3 error=CannotConnectNowError:"
        " the database system is starting up"
    )
    assert bug.levelno == logging.ERROR and bug.exc_info is not None
    assert bug.getMessage() == "action=claim_failed count=4"
