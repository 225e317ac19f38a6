"""`tidings send --csv FILE`: turning CSV rows into bulk request items, and answers back into rows.

The file has a header row. Columns: `to` and `text` (required), and optionally `time_to_send`
(as `--at`: ISO 8601 or +5m), `channels` (a fallback chain such as `whatsapp,sms`; default `sms`),
`sender` (for every channel) and `batch` (the batch tag, an extension of Tidings). A row that
cannot become a request (an unknown channel, an empty `to`) is refused here, with the same
kind of message the server would give, and never sent.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import IO, Any

from tidings.cli.format import CHANNELS, build_omnimessage, resolve_at

REQUIRED = ("to", "text")
OPTIONAL = ("time_to_send", "channels", "sender", "batch")
BULK_MAX = 1000  # the server's limit of items per bulk request


class CsvProblem(ValueError):
    """The file as a whole cannot be used (no header, unknown or missing columns)."""


@dataclass(frozen=True, slots=True)
class Row:
    line: int  # the line of the file the row starts on (the header is line 1)
    fields: dict[str, str]


@dataclass(frozen=True, slots=True)
class Item:
    row: Row
    body: dict[str, Any]


@dataclass(frozen=True, slots=True)
class Refusal:
    row: Row
    error: str


def read_rows(stream: IO[str]) -> tuple[list[str], Iterator[Row]]:
    """The header and the rows of a CSV file; `CsvProblem` when the header is unusable."""
    reader = csv.DictReader(stream)
    header = [h.strip() for h in (reader.fieldnames or [])]
    if not header:
        raise CsvProblem("the file is empty: it needs a header row (to,text,...)")
    unknown = [h for h in header if h not in REQUIRED + OPTIONAL]
    if unknown:
        raise CsvProblem(
            f"unknown column(s) {', '.join(map(repr, unknown))}; "
            f"columns are {', '.join(REQUIRED + OPTIONAL)}"
        )
    missing = [h for h in REQUIRED if h not in header]
    if missing:
        raise CsvProblem(f"missing column(s) {', '.join(missing)}")
    reader.fieldnames = header

    def rows() -> Iterator[Row]:
        line = 2
        for raw in reader:
            extra = raw.get(None)
            fields = {k: (v or "").strip() for k, v in raw.items() if k is not None}
            if extra:
                fields["__extra__"] = ",".join(extra)
            yield Row(line, fields)
            line = reader.line_num + 1

    return header, rows()


def to_item(row: Row, now: datetime) -> Item | Refusal:
    """The bulk request item for a row, or why it cannot be one."""
    f = row.fields
    if "__extra__" in f:
        return Refusal(row, "more values than columns")
    if not f.get("to"):
        return Refusal(row, "to: a recipient is required")
    if not f.get("text"):
        return Refusal(row, "text: the message text is required")
    chain = [c.strip().lower() for c in f.get("channels", "").split(",") if c.strip()] or ["sms"]
    bad = [c for c in chain if c not in CHANNELS]
    if bad:
        return Refusal(row, f"channels: unknown channel {bad[0]!r} (one of {', '.join(CHANNELS)})")
    try:
        at = resolve_at(f["time_to_send"], now) if f.get("time_to_send") else None
        body = build_omnimessage(
            f["to"],
            chain,
            [f["text"]] * len(chain),
            senders=[f["sender"]] if f.get("sender") else (),
            at=at,
        )
    except ValueError as exc:
        return Refusal(row, str(exc))
    if f.get("batch"):
        body["batch"] = f["batch"]
    return Item(row, body)


def chunks(items: Sequence[Item], size: int = BULK_MAX) -> Iterator[Sequence[Item]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]


def error_text(answer: Any) -> str:
    """The server's refusal of one item (`{"errors": [...]}`), as one line."""
    errors = answer.get("errors") if isinstance(answer, dict) else None
    if not isinstance(errors, list) or not errors:
        return "refused by the server"
    parts = []
    for e in errors:
        if not isinstance(e, dict):
            continue
        source = e.get("source")
        detail = str(e.get("detail") or e.get("title") or "invalid")
        # The server names fields of the bulk request ("messages[3].to"): name the column.
        if isinstance(source, str) and source:
            field = source.split("].", 1)[-1] if source.startswith("messages[") else source
            parts.append(f"{field}: {detail}")
        else:
            parts.append(detail)
    return "; ".join(parts) or "refused by the server"


def write_refused(path: Path, header: Sequence[str], refused: Sequence[Refusal]) -> None:
    """The refused rows as CSV: the file's own columns, then `line` and `error`."""
    with path.open("w", newline="", encoding="utf-8") as out:
        writer = csv.writer(out)
        writer.writerow([*header, "line", "error"])
        for r in sorted(refused, key=lambda r: r.row.line):
            writer.writerow([*(r.row.fields.get(h, "") for h in header), r.row.line, r.error])
