from __future__ import annotations

import signal
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.server import Server, run_cli


def _running_server(
    workdir: Path, database: str, *, bob: bool = True, env: dict[str, str] | None = None
) -> Iterator[Server]:
    """Accounts `alice` (sender AliceCo) and, unless told otherwise, `bob`; then the server."""
    run_cli(
        "accounts",
        "add",
        "alice",
        "--password",
        "alice-secret-pw",
        "--sender",
        "AliceCo",
        database=database,
    )
    if bob:
        run_cli("accounts", "add", "bob", "--password", "bob-secret-pw", database=database)
    srv = Server(workdir, database, env=dict(env or {}))
    srv.start()
    yield srv
    if srv.proc is not None:
        srv.stop(signal.SIGKILL)


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    """A fresh server on a fresh SQLite file, with accounts `alice` and `bob`."""
    yield from _running_server(tmp_path, f"sqlite:///{tmp_path / 'tidings.db'}")


@pytest.fixture(scope="session")
def shared_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """One server for a whole session (same accounts as `server`), for tests that only add
    messages: each such test uses its own recipient numbers, so it sees only its own messages."""
    workdir = tmp_path_factory.mktemp("shared-server")
    # Many tests check that wrong credentials get a 401, all from this machine's address: the
    # guessing back-off (tested on servers of its own in test_auth_hardening) must not turn the
    # session's later ones into 429s.
    yield from _running_server(
        workdir,
        f"sqlite:///{workdir / 'tidings.db'}",
        env={"TIDINGS_AUTH_FREE_FAILURES": "100000"},
    )


MESSENTE_252 = "2.5.2"


def _has_messente_252(path: Path) -> bool:
    return (path / "messente_api").is_dir() and (
        path / f"messente_api-{MESSENTE_252}.dist-info"
    ).is_dir()


@pytest.fixture(scope="session")
def messente_252_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A directory holding the official client `messente-api` 2.5.2 (API 2.0.0, with Telegram).

    It cannot share the venv with 2.7.0, so scripts run it in a subprocess with this directory
    first on PYTHONPATH. `$TIDINGS_MESSENTE_252` names a pre-installed copy (scripts/test.sh);
    otherwise it is installed once into `.venv/messente-api-2.5.2` (or a pytest temp dir when
    that is not writable), with its dependencies taken from the venv.
    """
    import os
    import shutil
    import subprocess
    import sys

    given = os.environ.get("TIDINGS_MESSENTE_252")
    if given:
        path = Path(given)
        if not _has_messente_252(path):
            pytest.fail(f"TIDINGS_MESSENTE_252={given} does not hold messente-api {MESSENTE_252}")
        return path
    venv_dir = Path(__file__).resolve().parents[2] / ".venv"
    target = venv_dir / f"messente-api-{MESSENTE_252}"
    if _has_messente_252(target):
        return target
    if not (venv_dir.is_dir() and os.access(venv_dir, os.W_OK)):
        target = tmp_path_factory.mktemp("messente-api") / f"messente-api-{MESSENTE_252}"
    # Install next to the target and rename into place, so a concurrent run never sees half.
    staging = target.with_name(f"{target.name}.{os.getpid()}.tmp")
    shutil.rmtree(staging, ignore_errors=True)
    pip = [sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
    done = subprocess.run(
        [*pip, "--no-deps", "--target", str(staging), f"messente-api=={MESSENTE_252}"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    if done.returncode != 0:
        shutil.rmtree(staging, ignore_errors=True)
        pytest.fail(f"could not install messente-api {MESSENTE_252}:\n{done.stdout}{done.stderr}")
    try:
        staging.rename(target)
    except OSError:  # another run installed it first
        shutil.rmtree(staging, ignore_errors=True)
    if not _has_messente_252(target):
        pytest.fail(f"messente-api {MESSENTE_252} is missing from {target} after installing")
    return target


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def backend_server(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Server]:
    """A fresh server with account `alice`, on SQLite and on PostgreSQL."""
    if request.param == "sqlite":
        database = f"sqlite:///{tmp_path / 'tidings.db'}"
    else:
        database = request.getfixturevalue("pg_database")
    yield from _running_server(tmp_path, database, bob=False)
