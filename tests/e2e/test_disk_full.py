"""SQLite on a full disk: a clear 503 in the error format, never a 201 for a message not stored,
and back to normal once there is room again. The disk is a small tmpfs (mounting needs root:
CI runs as root; elsewhere the test skips and says so)."""

from __future__ import annotations

import os
import signal
import subprocess
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tests.e2e.server import Server, run_cli


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    if os.geteuid() != 0:
        if os.environ.get("CI"):
            pytest.fail("the disk-full test mounts a tmpfs and needs root in CI")
        pytest.skip("mounting a small tmpfs needs root: run the suite as root to include it")
    disk = tmp_path / "disk"
    disk.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", str(disk)], check=True)
    try:
        yield disk
    finally:
        subprocess.run(["umount", "-l", str(disk)], check=False)


def _fill(disk: Path) -> Path:
    filler = disk / "filler"
    with filler.open("wb") as f:
        try:
            while True:
                f.write(b"\0" * 65536)
                f.flush()
        except OSError:
            pass
    return filler


def test_full_disk_is_a_503_and_nothing_accepted_is_lost(small_disk: Path, tmp_path: Path) -> None:
    database = f"sqlite:///{small_disk / 'tidings.db'}"
    run_cli("accounts", "add", "alice", "--password", "alice-secret-pw", database=database)
    srv = Server(tmp_path, database)  # its log outside the small disk
    srv.start()
    try:
        accepted: list[str] = []
        refusals = 0
        filler = _fill(small_disk)
        later = (datetime.now(UTC) + timedelta(days=30)).isoformat()
        with srv.client() as c:
            for i in range(300):
                r = c.post(
                    "/v1/omnimessage",
                    json={
                        "to": "+37251234567",
                        "time_to_send": later,
                        "messages": [{"channel": "sms", "text": f"{i} " + "x" * 1500}],
                    },
                )
                if r.status_code == 201:
                    accepted.append(r.json()["omnimessage_id"])
                    continue
                assert r.status_code == 503, r.text
                err = r.json()["errors"][0]
                assert err["code"] == "104" and "full" in err["detail"], err
                assert r.headers["retry-after"].isdigit()
                refusals += 1
                if refusals >= 5:
                    break
            assert refusals >= 5, "the disk never filled up"
            filler.unlink()
            r = c.post(
                "/v1/omnimessage",
                json={"to": "+37251234567", "messages": [{"channel": "sms", "text": "room again"}]},
            )
            assert r.status_code == 201, r.text
            for omni in accepted:  # every 201 was stored
                assert c.get(f"/v1/omnimessage/{omni}/status").status_code == 200, omni
        assert "Traceback" not in srv.log()
    finally:
        srv.stop(signal.SIGTERM)
