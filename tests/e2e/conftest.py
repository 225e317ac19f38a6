from __future__ import annotations

import signal
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.server import Server, run_cli


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    """A fresh server on a fresh SQLite file, with accounts `alice` and `bob`."""
    database = f"sqlite:///{tmp_path / 'tidings.db'}"
    run_cli("accounts", "add", "alice", "--password", "alice-secret-pw", "--sender", "AliceCo",
            database=database)
    run_cli("accounts", "add", "bob", "--password", "bob-secret-pw", database=database)
    srv = Server(tmp_path, database)
    srv.start()
    yield srv
    if srv.proc is not None:
        srv.stop(signal.SIGKILL)
