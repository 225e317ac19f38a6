"""Sending a CSV file through the bulk endpoint, with a progress bar, a summary and a file of the
rows that were not accepted.

Rows go in requests of up to 1000 items. A 429 is waited out (its Retry-After) and the request
sent again: nothing was stored. Whatever else stops a request — the server unreachable, a
refusal of the whole request — stops the run; its rows and the unsent ones go to the refused
file, marked so: `not sent` (safe to send again) or `unknown` (the request may have been
stored: check with `tidings status` before sending those again).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from tidings.cli.csv_rows import (
    Item,
    Refusal,
    chunks,
    error_text,
    read_rows,
    to_item,
    write_refused,
)
from tidings.client import ApiError, ConnectionProblem, TidingsClient

MAX_RATE_LIMIT_WAITS = 30


@dataclass
class CsvRun:
    header: list[str]
    rows: int = 0
    accepted: int = 0
    refused: list[Refusal] = field(default_factory=list)
    stopped: str | None = None  # why the run stopped early, if it did
    unknown: int = 0  # rows whose request may or may not have been stored
    unreachable: bool = False  # stopped because the server could not be reached
    seconds: float = 0.0

    def summary(self) -> dict[str, Any]:
        return {
            "rows": self.rows,
            "accepted": self.accepted,
            "refused": len(self.refused) - self.unknown,
            "unknown": self.unknown,
            "stopped": self.stopped,
            "seconds": round(self.seconds, 3),
            "rows_per_second": round(self.rows / self.seconds, 1) if self.seconds else None,
        }


def send_csv(client: TidingsClient, path: Path, refused_path: Path, *, quiet: bool) -> CsvRun:
    """Send every row of `path`; write the rows not accepted to `refused_path` (only if any)."""
    started = time.monotonic()
    with path.open(newline="", encoding="utf-8-sig") as stream:
        header, rows = read_rows(stream)
        now = datetime.now(UTC)
        run = CsvRun(header)
        items: list[Item] = []
        for row in rows:
            run.rows += 1
            made = to_item(row, now)
            if isinstance(made, Refusal):
                run.refused.append(made)
            else:
                items.append(made)
    console = Console(stderr=True)
    with Progress(
        TextColumn("sending"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        console=console,
        disable=quiet or not console.is_terminal,
    ) as progress:
        task = progress.add_task("rows", total=len(items))
        pending = list(chunks(items))
        for i, chunk in enumerate(pending):
            try:
                answers = _send_chunk(client, chunk)
            except ConnectionProblem as exc:
                run.unreachable = True
                _stop(run, chunk, pending[i + 1 :], str(exc), maybe_stored=exc.maybe_sent)
                break
            except ApiError as exc:
                _stop(run, chunk, pending[i + 1 :], str(exc), maybe_stored=exc.status >= 500)
                break
            for item, answer in zip(chunk, answers, strict=True):
                if isinstance(answer, dict) and "errors" in answer:
                    run.refused.append(Refusal(item.row, error_text(answer)))
                else:
                    run.accepted += 1
            progress.advance(task, len(chunk))
    run.seconds = time.monotonic() - started
    if run.refused:
        write_refused(refused_path, header, run.refused)
    return run


def _send_chunk(client: TidingsClient, chunk: Sequence[Item]) -> list[Any]:
    for _ in range(MAX_RATE_LIMIT_WAITS):
        try:
            result = client.send_bulk({"messages": [item.body for item in chunk]})
        except ApiError as exc:
            if exc.status != 429:
                raise
            time.sleep(min(exc.retry_after_s or 1.0, 60.0))
            continue
        answers = result.get("messages")
        if not isinstance(answers, list) or len(answers) != len(chunk):
            raise ApiError(201, [], f"unexpected bulk answer: {str(result)[:200]}")
        return answers
    raise ApiError(429, [], "still rate limited after waiting")


def _stop(
    run: CsvRun,
    chunk: Sequence[Item],
    later: Sequence[Sequence[Item]],
    reason: str,
    *,
    maybe_stored: bool,
) -> None:
    run.stopped = reason
    if maybe_stored:
        run.unknown += len(chunk)
        note = f"unknown: the request may have been stored ({reason}); check before resending"
    else:
        note = f"not sent: {reason}"
    run.refused += [Refusal(item.row, note) for item in chunk]
    run.refused += [
        Refusal(item.row, "not sent: the run stopped before") for c in later for item in c
    ]


def default_refused_path(path: Path) -> Path:
    return path.with_name(path.stem + ".refused.csv")


def summary_lines(run: CsvRun, refused_path: Path) -> list[str]:
    s = run.summary()
    lines = [
        f"accepted {run.accepted} of {run.rows} rows in {s['seconds']} s"
        + (f" ({s['rows_per_second']} rows/s)" if s["rows_per_second"] else "")
    ]
    if run.refused:
        lines.append(f"not accepted: {len(run.refused)}, written to {refused_path}")
    if run.stopped:
        lines.append(f"stopped early: {run.stopped}")
    if run.unknown:
        lines.append(f"{run.unknown} rows may have been stored: check them before sending again")
    return lines
