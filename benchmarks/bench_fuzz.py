"""Fuzzing the HTTP API: schemathesis generates requests from the server's OpenAPI document, valid and
invalid ones, for every operation, and checks each answer for server errors (5xx) and against the
documented response schema. The same run as tests/server/test_fuzz.py, with many more examples.

The server is the tiny project of the tests (tests/support/project.py: trained in seconds into the work
folder and kept there), under uvicorn on 127.0.0.1, without rate limits; admin routes get a bearer token.
Requests are generated reproducibly: a run with the same arguments sends the same requests.

Run: .venv/bin/python benchmarks/bench_fuzz.py [EXAMPLES]   (per operation, default 500; writes
     benchmarks/results/fuzz.json)
     --work DIR        where the trained tiny project lives (default: /tmp/kefu-bench-fuzz)
     --database URL    e.g. postgresql+psycopg://postgres@127.0.0.1:5432/test (default: SQLite in --work)
"""

import argparse
import json
import os
import platform
import secrets
import sys
import time
from pathlib import Path

import httpx
import torch
from rich.console import Console
from rich.table import Table
from sqlalchemy.engine import make_url

ROOT = Path(__file__).resolve().parent
RESULTS = ROOT / "results" / "fuzz.json"
sys.path.insert(0, str(ROOT.parent))  # the fuzzer and the tiny project live with the tests

from kefu.project.training import train_project
from kefu.store.db import safe_url
from tests.server.fuzzing import UNLIMITED, OperationResult, fuzz
from tests.support.project import WordEmbedder, write_tiny_project
from tests.support.server import login, start_server


def prepare(work: Path) -> Path:
    """The tiny project in ``work``, trained (again only when its files changed)."""
    project = work / "tiny-shop"
    if not project.exists():
        write_tiny_project(project)
    train_project(project, progress=False, embedder=WordEmbedder())
    return project


def run(project: Path, database: str, examples: int) -> tuple[list[OperationResult], float]:
    """Serve ``project`` on ``database`` and fuzz it; the results per operation and the seconds taken."""
    password = secrets.token_urlsafe(16)
    os.environ["KEFU_ADMIN_PASSWORD"] = password  # the first admin, created by the server on start
    os.environ.setdefault("KEFU_SECRET", secrets.token_hex(32))
    with start_server(project, database, server_settings=UNLIMITED) as server:
        with httpx.Client(base_url=server.url, timeout=60) as http:
            token = login(http, "admin", password)["Authorization"].removeprefix("Bearer ")
            http.post("/api/v1/chat", json={"text": "我要人工客服"}).raise_for_status()  # something to read
        started = time.perf_counter()
        results = fuzz(server.url, token, examples)
        return results, time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("examples", nargs="?", type=int, default=500, help="examples per operation")
    parser.add_argument("--work", type=Path, default=Path("/tmp/kefu-bench-fuzz"))
    parser.add_argument("--database", help="database URL (default: a fresh SQLite file in --work)")
    args = parser.parse_args()
    torch.set_num_threads(1)  # as the server runs
    project = prepare(args.work)
    database = args.database
    if database is None:
        for suffix in ("", "-wal", "-shm"):
            Path(f"{args.work / 'fuzz.db'}{suffix}").unlink(missing_ok=True)
        database = f"sqlite:///{args.work / 'fuzz.db'}"
    results, seconds = run(project, database, args.examples)
    shown = safe_url(make_url(database))  # no password in the output

    calls, failed = sum(r.calls for r in results), [r for r in results if r.failures]
    table = Table(title=f"schemathesis, up to {args.examples} examples per operation, {shown}")
    for column in ("operation", "calls", "failures"):
        table.add_column(column, justify="left" if column == "operation" else "right")
    for result in results:
        table.add_row(result.label, str(result.calls), str(len(result.failures)))
    table.add_row("all", str(calls), str(len(failed)))
    console = Console()
    console.print(table)
    for result in failed:
        console.print(f"[bold red]{result.label}[/]\n{result.failures[0]}")
    console.print(f"{len(results)} operations, {calls} requests in {seconds:.0f} s, {len(failed)} failing")

    result = {
        "benchmark": "fuzz",
        "tool": "schemathesis (positive and negative generation; checks not_a_server_error, "
        "response_schema_conformance)",
        "project": "tests/support/project.py tiny project",
        "database": shown,
        "examples_per_operation": args.examples,
        "operations": len(results),
        "calls": calls,
        "failing_operations": len(failed),
        "seconds": round(seconds, 1),
        "per_operation": [
            {"operation": r.label, "calls": r.calls, "failure": r.failures[0] if r.failures else None}
            for r in results
        ],
        "machine": {"platform": platform.platform(), "python": platform.python_version(), "cpus": os.cpu_count()},
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"results written to {RESULTS}")


if __name__ == "__main__":
    main()
