"""The server under load: `kefu serve --workers 2` on the demo project, driven by wrk over loopback.

The demo (kefu/project/template, scratch encoder) is trained in a work folder as bench_server.py does (the
chat rate limit off: every simulated customer comes from 127.0.0.1). `kefu serve DIR --workers 2` runs in
a subprocess on a fresh SQLite database, and wrk (a load generator in C: `apt-get install wrk`) drives it
with one thread per connection, so its Lua script pairs each response with its request:

* POST /api/v1/chat, as fast as answered: each connection is a customer holding a conversation of five
  messages (Chinese or English: intents, forms, knowledge-base questions, small talk, complaints that end
  with a person) with the session id the server gave, then starting the next. The most it can serve.
* The same at a steady --rate (default 300/s) spread over the connections: the latency customers see at
  that load. (As fast as answered, latency is only connections / throughput: 32 connections at 300/s
  wait 107 ms on average, whatever the server.) Latency counts from when a request was due, so one sent
  late because the server fell behind counts the wait too.
* POST /api/v1/admin/predict, as fast as answered: the model alone (nothing recorded), with an admin's
  bearer token.

Each run stops after --requests responses or --seconds, whichever comes first, after --warmup seconds
that are not counted (they also load the knowledge base's encoder in both workers). Besides requests/s
and latency the table shows the CPU time the server and wrk spent per request, and the machine's idle
CPU: the load generator shares the cores, and other programs may too, so CPU per request is the figure
to compare two versions of the code by; requests/s is what the machine gave at the time.

Run: .venv/bin/python benchmarks/bench_load.py      (writes benchmarks/results/load.json)
     --connections 32 --workers 2 --rate 300 --requests 20000 --seconds 30 --work /tmp/kefu-bench-load
"""

import argparse
import json
import os
import platform
import resource
import shutil
import subprocess
import sys
from pathlib import Path

import httpx
from bench_server import CONVERSATIONS, free_port, prepare, wait_ready
from rich.console import Console
from rich.table import Table

RESULTS = Path(__file__).resolve().parent / "results" / "load.json"
TARGET = {"requests_per_second": 300, "p99_ms": 50.0}
ADMIN_PASSWORD = "bench-admin-password"
PREDICT_TEXTS = [text for script in CONVERSATIONS for text in script if "{order}" not in text]

# What both endpoints' scripts share. Arguments: [1] responses a connection stops after, [2] ms between
# its requests (0: send each as soon as the last is answered), [3] connections (paced ones are spread
# evenly over the interval). Latency counts from when a request was due, so a paced request sent late
# because the server fell behind counts its wait too; each thread has one connection, so a response
# always belongs to the request before it.
COMMON_LUA = """
local ffi = require("ffi")
ffi.cdef[[
typedef struct { long tv_sec; long tv_nsec; } kefu_timespec;
int clock_gettime(int clock, kefu_timespec *now);
]]
local clock = ffi.new("kefu_timespec")
local function now_ms()
  ffi.C.clock_gettime(1, clock)  -- CLOCK_MONOTONIC
  return tonumber(clock.tv_sec) * 1000 + tonumber(clock.tv_nsec) / 1e6
end

local threads = {}

function setup(thread)
  table.insert(threads, thread)
  thread:set("id", #threads)
end

local function start(args)
  responses, failed, limit = 0, 0, tonumber(args[1])
  interval, connections = tonumber(args[2]), tonumber(args[3])
  latencies, due, sent = {}, nil, nil
  wrk.method = "POST"
  wrk.headers["Content-Type"] = "application/json"
end

function delay()
  if interval == 0 then return 0 end
  local now = now_ms()
  if due == nil then due = now + (id - 1) * interval / connections end
  return math.max(0, due - now)
end

local function sending()
  if interval == 0 then
    sent = now_ms()
  else
    sent = due or now_ms()  -- wrk sends a connection's first request without asking delay()
    due = sent + interval
  end
end

local function answered(status)
  responses = responses + 1
  latencies[responses] = now_ms() - sent
  local ok = status >= 200 and status < 300
  if not ok then failed = failed + 1 end
  if responses >= limit then wrk.thread:stop() end
  return ok
end

-- the run's summary as one JSON line for bench_load.py
function done(summary, latency, requests)
  local all, failed_all, total = {}, 0, 0
  for _, thread in ipairs(threads) do
    failed_all = failed_all + thread:get("failed")
    for _, ms in ipairs(thread:get("latencies")) do
      all[#all + 1] = ms
      total = total + ms
    end
  end
  table.sort(all)
  local function pct(p) return all[math.max(1, math.ceil(#all * p / 100))] or 0 end
  local e = summary.errors
  io.write(string.format(
    'KEFU_RESULT {"requests": %d, "duration_us": %d, "p50_ms": %.2f, "p90_ms": %.2f, "p99_ms": %.2f, '
      .. '"max_ms": %.2f, "mean_ms": %.2f, "non_2xx": %d, "socket_errors": %d, "timeouts": %d}\\n',
    summary.requests, summary.duration, pct(50), pct(90), pct(99), all[#all] or 0,
    #all > 0 and total / #all or 0, failed_all, e.connect + e.read + e.write, e.timeout))
end
"""

# One customer per connection: a conversation of five messages with the session id the server gave,
# then a new conversation.
CHAT_LUA = """
local scripts = {SCRIPTS}
local letters = "ABCDE"

function init(args)
  start(args)
  math.randomseed(1000 + id)
  session, script, turn = nil, nil, 1
end

local function order()
  local i = math.random(#letters)
  return letters:sub(i, i) .. tostring(math.random(100000, 99999999))
end

function request()
  if script == nil or turn > #script then
    script, turn, session = scripts[math.random(#scripts)], 1, nil
  end
  local text = script[turn]:gsub("{order}", order())
  turn = turn + 1
  sending()
  local body = '{"text":' .. text .. (session and (',"session_id":"' .. session .. '"}') or "}")
  return wrk.format(nil, nil, nil, body)
end

function response(status, headers, body)
  if answered(status) then
    session = body:match('"session_id":"(%x+)"')
  else
    script = nil
  end
end
"""

# Argument [4]: an admin's bearer token.
PREDICT_LUA = """
local texts = {TEXTS}

function init(args)
  start(args)
  math.randomseed(2000 + id)
  wrk.headers["Authorization"] = "Bearer " .. args[4]
end

function request()
  sending()
  return wrk.format(nil, nil, nil, '{"text":' .. texts[math.random(#texts)] .. '}')
end

function response(status, headers, body)
  answered(status)
end
"""


def lua_list(items: list[str]) -> str:
    """A Lua table of JSON string literals (long brackets: nothing inside needs escaping)."""
    return "{" + ", ".join(f"[==[{json.dumps(item)}]==]" for item in items) + "}"


def chat_script() -> str:
    scripts = "{" + ", ".join(lua_list(script) for script in CONVERSATIONS) + "}"
    return COMMON_LUA + CHAT_LUA.replace("{SCRIPTS}", scripts)


def predict_script() -> str:
    return COMMON_LUA + PREDICT_LUA.replace("{TEXTS}", lua_list(PREDICT_TEXTS))


def start_server(project: Path, database: Path, port: int, workers: int, log: Path) -> subprocess.Popen:
    kefu = Path(sys.executable).with_name("kefu")
    env = os.environ | {
        "KEFU_DATABASE_URL": f"sqlite:///{database}",
        "KEFU_ADMIN_PASSWORD": ADMIN_PASSWORD,
        "KEFU_SECRET": "benchmark-secret-0123456789",
        "OMP_NUM_THREADS": "1",
    }
    command = [str(kefu), "serve", str(project), "--port", str(port), "--workers", str(workers), "--no-train"]
    with log.open("w") as output:
        return subprocess.Popen(command, env=env, stdout=output, stderr=subprocess.STDOUT)


def process_tree(root: int) -> list[int]:
    """``root`` and every process below it (the uvicorn workers)."""
    parents: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue  # ended meanwhile
        parents.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    tree, todo = [], [root]
    while todo:
        pid = todo.pop()
        tree.append(pid)
        todo.extend(parents.get(pid, []))
    return tree


def cpu_seconds(pids: list[int]) -> float:
    """User plus system CPU time the processes have used so far."""
    ticks = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        ticks += int(fields[11]) + int(fields[12])
    return ticks / os.sysconf("SC_CLK_TCK")


def idle_seconds() -> float:
    """The machine's idle time so far, all CPUs together (a run that leaves some was not short of CPU)."""
    fields = Path("/proc/stat").read_text().split("\n", 1)[0].split()
    return (int(fields[4]) + int(fields[5])) / os.sysconf("SC_CLK_TCK")


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run_wrk(
    url: str, script: Path, args: list[str], connections: int, seconds: int, server: list[int]
) -> dict:
    """One bounded wrk run; its summary with the CPU time the server and wrk spent per request."""
    command = ["wrk", f"-t{connections}", f"-c{connections}", f"-d{seconds}s", "--timeout", "10s"]
    command += ["-s", str(script), url, "--", *args]
    server_before, wrk_before, idle_before = cpu_seconds(server), children_cpu(), idle_seconds()
    load_before = os.getloadavg()[0]
    finished = subprocess.run(command, check=False, capture_output=True, text=True, timeout=seconds + 60)
    server_cpu, wrk_cpu = cpu_seconds(server) - server_before, children_cpu() - wrk_before
    idle = idle_seconds() - idle_before
    line = next((x for x in finished.stdout.splitlines() if x.startswith("KEFU_RESULT ")), None)
    if finished.returncode != 0 or line is None:
        output = (finished.stderr or finished.stdout).strip()
        raise SystemExit(f"bench_load: wrk failed ({finished.returncode}): {output}")
    raw = json.loads(line.removeprefix("KEFU_RESULT "))
    n, wall = max(raw.pop("requests"), 1), raw.pop("duration_us") / 1e6
    return {
        "requests": n,
        "seconds": round(wall, 2),
        "requests_per_second": round(n / wall, 1),
        **{key: round(value, 2) for key, value in raw.items()},
        "server_cpu_ms_per_request": round(server_cpu * 1000 / n, 2),
        "wrk_cpu_ms_per_request": round(wrk_cpu * 1000 / n, 2),
        "server_cpus_busy": round(server_cpu / wall, 2),
        "machine_idle_percent": round(100 * idle / (os.cpu_count() * wall), 1),
        "load_average_before": round(load_before, 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--work", type=Path, default=Path("/tmp/kefu-bench-load"))
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--requests", type=int, default=20000, help="per run: stop after this many")
    parser.add_argument("--seconds", type=int, default=30, help="per run: stop after this long")
    parser.add_argument("--warmup", type=int, default=5, help="seconds of uncounted load before each run")
    parser.add_argument("--rate", type=float, default=TARGET["requests_per_second"], help="paced chat run")
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        raise SystemExit("bench_load: the load generator wrk is not installed (Debian: apt-get install wrk)")

    project = prepare(args.work)
    database = args.work / "load.db"
    for suffix in ("", "-wal", "-shm"):
        Path(f"{database}{suffix}").unlink(missing_ok=True)
    scripts = {"chat": args.work / "chat.lua", "predict": args.work / "predict.lua"}
    scripts["chat"].write_text(chat_script(), encoding="utf-8")
    scripts["predict"].write_text(predict_script(), encoding="utf-8")
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    server = start_server(project, database, port, args.workers, args.work / "server.log")
    per_connection = str(-(-args.requests // args.connections))
    paced = f"{args.connections * 1000 / args.rate:.3f}"  # ms between one connection's requests
    try:
        health = wait_ready(url, server)
        admin = {"username": "admin", "password": ADMIN_PASSWORD}
        token = httpx.post(f"{url}/api/v1/admin/login", json=admin).raise_for_status().json()["access_token"]
        processes = process_tree(server.pid)
        runs = {
            "chat, as fast as answered": ("chat", [per_connection, "0", str(args.connections)]),
            f"chat, paced at {args.rate:g}/s": ("chat", [per_connection, paced, str(args.connections)]),
            "predict, as fast as answered": ("predict", [per_connection, "0", str(args.connections), token]),
        }
        endpoints = {"chat": f"{url}/api/v1/chat", "predict": f"{url}/api/v1/admin/predict"}
        results = {}
        for name, (endpoint, lua_args) in runs.items():
            target = (endpoints[endpoint], scripts[endpoint], lua_args, args.connections)
            run_wrk(*target, args.warmup, processes)
            result = run_wrk(*target, args.seconds, processes)
            results[name] = {"endpoint": f"POST {endpoints[endpoint].removeprefix(url)}", **result}
    finally:
        server.terminate()
        server.wait(30)

    table = Table(
        title=f"kefu serve --workers {args.workers}, wrk {args.connections} connections, "
        f"each run at most {args.requests} requests or {args.seconds} s",
        caption="CPU ms/req: CPU time of the server processes (and of wrk) per request; "
        "idle: the machine's idle CPU during the run",
    )
    columns = ["run", "requests", "req/s", "p50 ms", "p90 ms", "p99 ms", "errors", "non-2xx"]
    for column in [*columns, "CPU ms/req", "idle"]:
        table.add_column(column, justify="left" if column == "run" else "right", no_wrap=True)
    for name, r in results.items():
        table.add_row(
            name,
            str(r["requests"]),
            f"{r['requests_per_second']:.0f}",
            f"{r['p50_ms']:.1f}",
            f"{r['p90_ms']:.1f}",
            f"{r['p99_ms']:.1f}",
            str(r["socket_errors"] + r["timeouts"]),
            str(r["non_2xx"]),
            f"{r['server_cpu_ms_per_request']:.2f} (+{r['wrk_cpu_ms_per_request']:.2f})",
            f"{r['machine_idle_percent']:.0f}%",
        )
    console = Console(width=max(Console().width, 130))  # the table is wider than a log file's 80 columns
    console.print(table)
    fastest, steady = results["chat, as fast as answered"], results[f"chat, paced at {args.rate:g}/s"]
    throughput = fastest["requests_per_second"] >= TARGET["requests_per_second"]
    # at a rate it cannot keep up with, a paced run shows the backlog: only one that kept up counts
    kept_up = steady["requests_per_second"] >= 0.97 * args.rate
    latency = kept_up and args.rate >= TARGET["requests_per_second"] and steady["p99_ms"] <= TARGET["p99_ms"]
    console.print(
        f"chat: {fastest['requests_per_second']:.0f} requests/s at most "
        f"({'meets' if throughput else 'misses'} {TARGET['requests_per_second']}/s); "
        f"p99 {steady['p99_ms']:.1f} ms at {steady['requests_per_second']:.0f} requests/s offered "
        f"{args.rate:g}/s ({'meets' if latency else 'misses'} p99 {TARGET['p99_ms']:.0f} ms at "
        f"{TARGET['requests_per_second']}/s). Load average before: {fastest['load_average_before']} "
        f"on {os.cpu_count()} CPUs."
    )

    result = {
        "benchmark": "load",
        "project": "kefu/project/template (demo shop, scratch encoder), trained with its kefu.yml",
        "model_version": health["model_version"],
        "server": f"kefu serve --workers {args.workers} (uvicorn), SQLite (WAL)",
        "load_generator": f"wrk, {args.connections} connections of one thread each, loopback; latency from "
        "when a request was due",
        "limits": {"requests": args.requests, "seconds": args.seconds, "warmup_seconds": args.warmup},
        "target_chat": TARGET,
        "meets_target": {"throughput": throughput, "p99_at_target_rate": latency},
        "runs": results,
        "machine": {
            "platform": platform.platform(),
            "python": platform.python_version(),
            "cpus": os.cpu_count(),
            "load_average_1m": round(os.getloadavg()[0], 2),
        },
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"results written to {RESULTS}")


if __name__ == "__main__":
    main()
