"""Chat API latency: the demo project served by `kefu.server.serve`, `POST /api/v1/chat` timed from a client
in another process.

The demo (kefu/project/template) is copied to a work folder and trained with its own kefu.yml settings
(kept there between runs: the fingerprint makes a second run reuse the model and the e5 index). The
server runs in a subprocess (one worker, SQLite, one torch thread); this process is the client. The
workload is 60 scripted conversations of 5 messages (300 requests), Chinese and English, intents, forms,
knowledge-base questions, small talk and a few handoffs, so some requests start a conversation and most
continue one. Times are wall-clock round trips over a keep-alive connection, after a warm-up.

Run: .venv/bin/python benchmarks/bench_server.py        (writes benchmarks/results/server.json)
     --work DIR   where the trained demo copy lives (default: /tmp/kefu-bench-server)
"""

import argparse
import json
import os
import platform
import random
import socket
import statistics
import subprocess
import sys
import time
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
from rich.console import Console
from rich.table import Table

from kefu.project import init_project

RESULTS = Path(__file__).resolve().parent / "results" / "server.json"
TARGET_P50_MS = 30.0
SEED = 0
WARMUP = ["你好", "hello", "有礼品包装吗", "Do you ship internationally?", "where is my order", "运费怎么算"]
WARMUP *= 3

# Each conversation is five messages; "{order}" becomes a fresh order number.
CONVERSATIONS = [
    ["你好", "我的订单到哪了", "{order}", "谢谢", "再见"],
    ["hi", "where is my order", "{order}", "thanks!", "bye"],
    ["运费怎么算", "多久能送到广州", "可以开发票吗", "好的谢谢", "拜拜"],
    ["how much is shipping", "how long does delivery take", "can I get an invoice", "thank you", "goodbye"],
    ["有礼品包装吗", "可以寄到香港吗", "你们卖的是正品吗", "会员积分怎么用", "谢谢"],
    [
        "Do you offer gift wrapping?",
        "Do you ship internationally?",
        "What does the warranty cover?",
        "Do you have a loyalty program?",
        "thanks",
    ],
    ["我想取消订单", "{order}", "退款多久到账", "支付宝可以用吗", "再见"],
    [
        "I'd like to return an item",
        "my payment failed",
        "I forgot my password",
        "which coupons can I use",
        "ok bye",
    ],
    ["在吗", "我要投诉，东西是坏的", "人呢", "快点", "算了"],
    ["hello", "can I talk to a real person", "hello?", "anyone?", "bye"],
]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def prepare(work: Path) -> Path:
    """The demo project in ``work/shop``, trained (reused when unchanged since the last run)."""
    project = work / "shop"
    if not (project / "kefu.yml").is_file():
        init_project(project)
        # every simulated customer comes from 127.0.0.1: the per-address chat rate limit would answer 429
        settings = project / "kefu.yml"
        settings.write_text(settings.read_text().replace("chat_rate_per_minute: 60", "chat_rate_per_minute: 0"))
    import torch

    # here: the client process need not import torch otherwise
    from kefu.project.training import train_project

    torch.set_num_threads(1)
    started = time.perf_counter()
    summary = train_project(project, progress=True)
    nlu = summary["nlu"]
    print(
        f"model {nlu['version']}: {'reused' if nlu['reused'] else 'trained'}; "
        f"knowledge: {summary['knowledge']['passages']} passages; {time.perf_counter() - started:.1f} s"
    )
    return project


def start_server(project: Path, database: Path, port: int) -> subprocess.Popen:
    code = (
        "from kefu.server import serve; "
        f"serve({str(project)!r}, host='127.0.0.1', port={port}, train=False, log_level='warning')"
    )
    env = os.environ | {
        "KEFU_DATABASE_URL": f"sqlite:///{database}",
        "KEFU_ADMIN_PASSWORD": "bench-admin-password",
        "KEFU_SECRET": "benchmark-secret-0123456789",
        "OMP_NUM_THREADS": "1",
    }
    return subprocess.Popen([sys.executable, "-c", code], env=env)


def wait_ready(url: str, server: subprocess.Popen, timeout: float = 180) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise SystemExit(f"server exited with {server.returncode}")
        try:
            return httpx.get(url + "/healthz", timeout=2).json()
        except httpx.HTTPError:
            time.sleep(0.25)
    raise SystemExit("server did not become ready")


def workload(rng: random.Random) -> list[list[str]]:
    conversations = []
    for n in range(60):
        script = CONVERSATIONS[n % len(CONVERSATIONS)]
        order = f"{rng.choice('ABCDE')}{rng.randrange(10**5, 10**8)}"
        conversations.append([text.replace("{order}", order) for text in script])
    rng.shuffle(conversations)
    return conversations


def run(http: httpx.Client, conversations: list[list[str]]) -> list[dict]:
    """Send the conversations turn by turn, interleaved (as many customers would), timing each request."""
    samples = []
    sessions: list[str | None] = [None] * len(conversations)
    for turn in range(5):
        for index, script in enumerate(conversations):
            started = time.perf_counter()
            response = http.post("/api/v1/chat", json={"session_id": sessions[index], "text": script[turn]})
            elapsed = (time.perf_counter() - started) * 1000
            response.raise_for_status()
            body = response.json()
            samples.append(
                {
                    "ms": elapsed,
                    "new": sessions[index] is None,
                    "language": "zh" if any("\u4e00" <= ch <= "\u9fff" for ch in script[turn]) else "en",
                    "decision": body["decision"] or "silent (human agent)",
                }
            )
            sessions[index] = body["session_id"]
    return samples


def summarise(times: list[float]) -> dict:
    ordered = sorted(times)

    def pct(p: float) -> float:
        return round(ordered[min(len(ordered) - 1, int(p * len(ordered)))], 2)

    return {
        "n": len(times),
        "p50_ms": round(statistics.median(times), 2),
        "p95_ms": pct(0.95),
        "p99_ms": pct(0.99),
        "mean_ms": round(statistics.fmean(times), 2),
        "max_ms": round(max(times), 2),
    }


def concurrent(url: str, clients: int, per_client: int) -> dict:
    """Throughput with several customers at once (each its own connection and conversation)."""

    def one(n: int) -> list[float]:
        times, session = [], None
        with httpx.Client(base_url=url, timeout=60) as http:
            for i in range(per_client):
                text = ["你好", "where is my order", f"A{100000 + n * 100 + i}", "运费怎么算", "thanks"][
                    i % 5
                ]
                started = time.perf_counter()
                session = http.post("/api/v1/chat", json={"session_id": session, "text": text}).json()[
                    "session_id"
                ]
                times.append((time.perf_counter() - started) * 1000)
        return times

    started = time.perf_counter()
    with ThreadPoolExecutor(clients) as pool:
        times = [t for result in pool.map(one, range(clients)) for t in result]
    seconds = time.perf_counter() - started
    return {"clients": clients, **summarise(times), "requests_per_second": round(len(times) / seconds, 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--work", type=Path, default=Path("/tmp/kefu-bench-server"))
    args = parser.parse_args()
    project = prepare(args.work)
    database = args.work / "bench.db"
    for suffix in ("", "-wal", "-shm"):
        Path(f"{database}{suffix}").unlink(missing_ok=True)
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    server = start_server(project, database, port)
    try:
        health = wait_ready(url, server)
        rng = random.Random(SEED)
        with httpx.Client(base_url=url, timeout=60) as http:
            for text in WARMUP:  # loads the e5 engine (on the first knowledge-base question) and warms caches
                http.post("/api/v1/chat", json={"text": text}).raise_for_status()
            samples = run(http, workload(rng))
        load = os.getloadavg()
        parallel = concurrent(url, clients=4, per_client=25)
    finally:
        server.terminate()
        server.wait(30)

    overall = summarise([s["ms"] for s in samples])
    groups: dict[str, list[float]] = defaultdict(list)
    for s in samples:
        groups[f"decision: {s['decision']}"].append(s["ms"])
        groups[f"language: {s['language']}"].append(s["ms"])
        groups["new conversation" if s["new"] else "continuing conversation"].append(s["ms"])
    breakdown = {name: summarise(times) for name, times in sorted(groups.items())}

    table = Table(title=f"POST /api/v1/chat, {overall['n']} requests, one client, keep-alive")
    for column in ("requests", "n", "p50 ms", "p95 ms", "p99 ms", "mean ms"):
        table.add_column(column, justify="right" if column != "requests" else "left")
    for name, row in [("all", overall), *breakdown.items()]:
        table.add_row(
            name,
            str(row["n"]),
            f"{row['p50_ms']:.1f}",
            f"{row['p95_ms']:.1f}",
            f"{row['p99_ms']:.1f}",
            f"{row['mean_ms']:.1f}",
        )
    console = Console()
    console.print(table)
    console.print(
        f"4 concurrent clients: {parallel['requests_per_second']} requests/s, "
        f"p50 {parallel['p50_ms']} ms, p95 {parallel['p95_ms']} ms"
    )
    verdict = "meets" if overall["p50_ms"] <= TARGET_P50_MS else "misses"
    console.print(
        f"p50 {overall['p50_ms']} ms {verdict} the target of {TARGET_P50_MS:.0f} ms "
        f"(load average during the run: {load[0]:.1f} on {os.cpu_count()} CPUs)"
    )

    result = {
        "benchmark": "server",
        "endpoint": "POST /api/v1/chat",
        "project": "kefu/project/template (demo shop), trained with its kefu.yml",
        "model_version": health["model_version"],
        "database": "SQLite (WAL)",
        "server": "kefu.server.serve, 1 uvicorn worker, torch 1 thread, e5 knowledge base 1 thread",
        "requests": overall["n"],
        "target_p50_ms": TARGET_P50_MS,
        "overall": overall,
        "breakdown": breakdown,
        "concurrent": parallel,
        "machine": {
            "platform": platform.platform(),
            "python": platform.python_version(),
            "cpus": os.cpu_count(),
            "load_average_1m": round(load[0], 2),
        },
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"results written to {RESULTS}")


if __name__ == "__main__":
    main()
