"""`tidings send --csv FILE` as a subprocess against the real server: accepted rows reach the
inbox, refused rows (by the CLI or by the server) land in the refused file with their errors,
and a server that cannot be reached leaves every row marked `not sent`."""

from __future__ import annotations

import csv
import json
from pathlib import Path

from tests.e2e.server import Server, free_port
from tests.e2e.test_cli_client import cli
from tests.waiting import wait_until


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def refused_rows(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def test_rows_are_sent_and_refusals_written_with_their_errors(
    shared_server: Server, tmp_path: Path
) -> None:
    server = shared_server
    numbers = [f"+3725399{i:04d}" for i in range(5)]
    source = write(
        tmp_path / "people.csv",
        "\ufeffto,text,channels,time_to_send,sender\n"  # a BOM, as spreadsheets write
        f"{numbers[0]},Hello Ann,,,\n"
        f'{numbers[1]},"Tere, Mari — ümarlaud 🍏",whatsapp;sms,,\n'  # not a chain: refused here
        f'{numbers[2]},Fallback,"viber,sms",,\n'
        "not-a-number,Nope,,,\n"  # refused by the server
        f"{numbers[3]},Later,,+1h,\n"
        f"{numbers[4]},,,,\n",  # no text
    )

    done = cli(server, "send", "--csv", str(source), "--json")

    assert done.returncode == 1, (done.stdout, done.stderr)
    summary = json.loads(done.stdout)
    assert (summary["rows"], summary["accepted"], summary["refused"]) == (6, 3, 3)
    assert summary["unknown"] == 0 and summary["stopped"] is None
    refused_path = tmp_path / "people.refused.csv"
    assert summary["refused_file"] == str(refused_path)
    rows = refused_rows(refused_path)
    assert [r["line"] for r in rows] == ["3", "5", "7"]
    assert rows[0]["text"] == "Tere, Mari — ümarlaud 🍏"
    assert rows[0]["error"].startswith("channels: unknown channel 'whatsapp;sms'")
    assert rows[1]["error"].startswith("to: "), rows[1]
    assert rows[2]["error"] == "text: the message text is required"
    with server.client() as http:
        for to, text in ((numbers[0], "Hello Ann"), (numbers[2], "Fallback")):
            got = wait_until(
                lambda to=to: http.get("/v1/sandbox/messages", params={"to": to}).json()[
                    "messages"
                ],
                f"the message to {to}",
            )
            assert got[0]["text"] == text
        assert http.get("/v1/sandbox/messages", params={"to": numbers[3]}).json() == {
            "messages": []
        }  # scheduled an hour ahead


def test_all_accepted_exits_0_and_writes_no_refused_file(
    shared_server: Server, tmp_path: Path
) -> None:
    rows = "".join(f"+3725398{i:04d},n{i}\n" for i in range(2500))  # three bulk requests
    source = write(tmp_path / "many.csv", "to,text\n" + rows)
    out = tmp_path / "elsewhere.csv"

    done = cli(shared_server, "send", "--csv", str(source), "--refused", str(out))

    assert done.returncode == 0, (done.stdout, done.stderr)
    assert done.stdout.startswith("accepted 2500 of 2500 rows in ")
    assert not out.exists()


def test_a_file_that_cannot_be_used_is_a_usage_error(shared_server: Server, tmp_path: Path) -> None:
    for content, message in (
        ("", "needs a header row"),
        ("to,body\n+37251234567,x\n", "unknown column(s) 'body'"),
        ("to\n+37251234567\n", "missing column(s) text"),
    ):
        done = cli(shared_server, "send", "--csv", str(write(tmp_path / "bad.csv", content)))
        assert done.returncode == 2, done.stderr
        assert message in done.stderr
    mixed = cli(shared_server, "send", "--csv", str(tmp_path / "bad.csv"), "--to", "+372")
    assert mixed.returncode == 2 and "--csv takes every field from the file" in mixed.stderr


def test_unreachable_server_marks_every_row_not_sent(shared_server: Server, tmp_path: Path) -> None:
    source = write(tmp_path / "x.csv", "to,text\n+37251234567,a\n+37251234568,b\n")
    url = f"http://127.0.0.1:{free_port()}"

    done = cli(shared_server, "send", "--csv", str(source), TIDINGS_URL=url)

    assert done.returncode == 3, (done.stdout, done.stderr)
    rows = refused_rows(tmp_path / "x.refused.csv")
    assert [r["error"].split(":")[0] for r in rows] == ["not sent", "not sent"]
    assert "stopped early: cannot reach" in done.stdout
