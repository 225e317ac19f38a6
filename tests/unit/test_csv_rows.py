"""CSV rows to bulk items and back, without a server."""

from __future__ import annotations

import io
from datetime import UTC, datetime
from pathlib import Path

import pytest

from tidings.cli.csv_rows import (
    CsvProblem,
    Item,
    Refusal,
    Row,
    chunks,
    error_text,
    read_rows,
    to_item,
    write_refused,
)

NOW = datetime(2030, 1, 1, tzinfo=UTC)


def rows(text: str) -> list[Row]:
    return list(read_rows(io.StringIO(text))[1])


def test_a_full_row_becomes_the_bulk_item() -> None:
    (row,) = rows(
        'to,text,channels,sender,time_to_send,batch\n+37251234567,Hi,"rcs,sms",Me,+5m,b1\n'
    )
    item = to_item(row, NOW)
    assert isinstance(item, Item)
    assert item.body["to"] == "+37251234567"
    assert [m["channel"] for m in item.body["messages"]] == ["rcs", "sms"]
    assert {m["sender"] for m in item.body["messages"]} == {"Me"}
    assert item.body["time_to_send"] == "2030-01-01T00:05:00.000000Z"
    assert item.body["batch"] == "b1"


def test_lines_count_quoted_newlines() -> None:
    got = rows('to,text\n+1,"two\nlines"\n+2,x\n')
    assert [r.line for r in got] == [2, 4]


@pytest.mark.parametrize(
    ("line", "error"),
    [
        (",x", "to: a recipient is required"),
        ("+1,", "text: the message text is required"),
        ("+1,x,fax", "channels: unknown channel 'fax'"),
        ("+1,x,sms,extra", "more values than columns"),
    ],
)
def test_rows_refused_before_sending(line: str, error: str) -> None:
    (row,) = rows(f"to,text,channels\n{line}\n")
    made = to_item(row, NOW)
    assert isinstance(made, Refusal) and made.error.startswith(error)


def test_server_errors_name_the_column() -> None:
    answer = {"errors": [{"detail": "bad number", "source": "messages[7].to", "code": "105"}]}
    assert error_text(answer) == "to: bad number"
    assert error_text({"errors": []}) == "refused by the server"


def test_chunks_of_at_most_1000() -> None:
    items = [Item(Row(i, {}), {}) for i in range(2001)]
    assert [len(c) for c in chunks(items)] == [1000, 1000, 1]


def test_refused_file_keeps_the_columns_and_adds_line_and_error(tmp_path: Path) -> None:
    header, it = read_rows(io.StringIO("to,text\n+1,a\n+2,b\n"))
    first, second = list(it)
    out = tmp_path / "r.csv"
    write_refused(out, header, [Refusal(second, "no"), Refusal(first, "nope")])
    assert out.read_text().splitlines() == ["to,text,line,error", "+1,a,2,nope", "+2,b,3,no"]


@pytest.mark.parametrize("text", ["", "to,body\n", "text\n"])
def test_unusable_headers(text: str) -> None:
    with pytest.raises(CsvProblem):
        read_rows(io.StringIO(text))
