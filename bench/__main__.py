"""`python -m bench run NAME|all [--backend sqlite|postgresql] [--quick]`

Prints one JSON document to stdout and writes each benchmark's result to
`bench/results/NAME-BACKEND-<timestamp>.json`. Progress goes to stderr.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import sys
import time
import traceback
from collections.abc import Awaitable, Callable, Coroutine
from pathlib import Path
from typing import Any

import orjson

from bench.harness import BACKENDS, log

BENCHMARKS = (
    "lateness",
    "burst",
    "accept",
    "pending",
    "cancel",
    "list",
    "batch_cancel",
    "scaleout",
)
RESULTS = Path(__file__).resolve().parent / "results"


def _runner(name: str) -> Callable[[str, bool], Awaitable[dict[str, Any]]]:
    module = importlib.import_module(f"bench.{name}")
    fn: Callable[[str, bool], Awaitable[dict[str, Any]]] = module.run
    return fn


def _asyncio_run(coro: Coroutine[Any, Any, dict[str, Any]]) -> dict[str, Any]:
    try:
        import uvloop
    except ImportError:  # pragma: no cover
        return asyncio.run(coro)
    return uvloop.run(coro)


def _save(doc: dict[str, Any]) -> Path:
    RESULTS.mkdir(parents=True, exist_ok=True)
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    path = RESULTS / f"{doc['benchmark']}-{doc['backend']}-{stamp}.json"
    path.write_bytes(orjson.dumps(doc, option=orjson.OPT_INDENT_2) + b"\n")
    return path


def run_one(name: str, backend: str, quick: bool) -> dict[str, Any]:
    log(f"== {name} on {backend}{' (quick)' if quick else ''}")
    try:
        doc = _asyncio_run(_runner(name)(backend, quick))  # type: ignore[arg-type]
    except Exception as exc:
        traceback.print_exc(file=sys.stderr)
        doc = {
            "benchmark": name,
            "backend": backend,
            "quick": quick,
            "valid": False,
            "all_met": False,
            "error": f"{type(exc).__name__}: {exc}",
        }
    doc["result_file"] = str(_save(doc))
    log(f"== {name}: wrote {doc['result_file']}")
    return doc


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="run one benchmark, or all of them")
    run.add_argument("name", choices=[*BENCHMARKS, "all"])
    run.add_argument("--backend", choices=BACKENDS, default="sqlite")
    run.add_argument(
        "--quick", action="store_true", help="shorter runs and smaller volumes (smoke test)"
    )
    sub.add_parser("list", help="list the benchmarks")
    args = parser.parse_args(argv)

    if args.command == "list":
        print("\n".join(BENCHMARKS))
        return 0
    names = BENCHMARKS if args.name == "all" else (args.name,)
    docs = [run_one(n, args.backend, args.quick) for n in names]
    out: dict[str, Any] = docs[0] if len(docs) == 1 else {"runs": docs}
    if len(docs) > 1:
        out["summary"] = [
            {
                "benchmark": d["benchmark"],
                "valid": d.get("valid"),
                "all_met": d.get("all_met"),
                "checks": [
                    {k: c[k] for k in ("figure", "value", "target", "met")}
                    for c in d.get("checks", [])
                ],
            }
            for d in docs
        ]
    sys.stdout.write(orjson.dumps(out, option=orjson.OPT_INDENT_2).decode() + "\n")
    return 0 if all(d.get("valid") for d in docs) else 1


if __name__ == "__main__":
    sys.exit(main())
