"""Opinion monitoring (issue 7): topic accuracy and `kefu analyze` throughput on real news and tweets.

Topic sets train like intents. NLPCC 2017 headlines (Chinese, 18 topics) and AG News (English, 4 topics)
have no split here: both get a stratified 80/10/10 split with seed 0; the TF-IDF + LinearSVC baseline
trains on the same split in the same run. The e5-small topic models also learn a sentiment head (waimai
reviews for Chinese, 8,000 SST-2 phrases for English), so that one encoder pass gives both for
`kefu analyze`, which then runs on their int8 ONNX export over all 36,000 headlines (with e5's bottom 6
layers, and with all 12) and, with a support-topic model (Bitext's 11 categories), over the 15,096
Spotify support tweets: texts/s, and resident memory sampled through the run (flat: constant memory).

    python benchmarks/bench_topics.py                        # train, export, analyze (about an hour)
    python benchmarks/bench_topics.py --reuse                # analyze with the models of an earlier run

Prints a table and writes benchmarks/results/topics.json.
"""

import argparse
import csv
import json
import platform
import subprocess
import sys
import time
from pathlib import Path

import torch
from rich.console import Console
from rich.table import Table

sys.path.insert(0, str(Path(__file__).resolve().parent))
import datasets
from bench_nlu import run_kefu
from common import rss_mb, run_baseline

from kefu.nlu.model import Model
from kefu.training import TrainConfig

RESULTS = Path(__file__).resolve().parent / "results" / "topics.json"
TASKS = {
    # task -> (reader, sentiment reader, number of sentiment examples kept)
    "nlpcc": (datasets.nlpcc, datasets.waimai, None),
    "agnews": (datasets.ag_news, datasets.sst2, 8000),
    # support topics for the Spotify tweets (`kefu analyze` on real customer messages)
    "bitext": (datasets.bitext_categories, datasets.sst2, 8000),
}
# e5: 28,800 headlines make an epoch long; validation stopped improving after the third.
E5_SETTINGS = {
    "nlpcc": {"epochs": 3, "patience": 1},
    "agnews": {"epochs": 4, "patience": 1},
    "bitext": {"epochs": 2, "patience": 1},
}
TASK_ENCODERS = {"nlpcc": "e5-small,e5-small@6", "agnews": "e5-small", "bitext": "e5-small@6"}
# "e5-small@6": e5's bottom 6 layers only, the top 2 of them trained (twice as fast to run as all 12, and
# quicker to train): the model `kefu analyze` is measured with.
SHALLOW = {"train_layers": 2, "epochs": 2}


def topic_rows(task: str, encoders: list[str], work: Path) -> list[dict]:
    reader, sentiment_reader, keep = TASKS[task]
    train, val, test = reader()
    rows = [run_baseline(train, test)]
    Console(stderr=True).print(rows[0])
    for name in encoders:
        encoder, _, layers = name.partition("@")
        sentiment = None
        settings = {}
        if encoder != "scratch":
            s_train, s_val, _ = sentiment_reader()
            sentiment = (datasets.sample(s_train, keep) if keep else s_train, s_val)
            settings = E5_SETTINGS[task] | ({"encoder_layers": int(layers)} | SHALLOW if layers else {})
        cfg = TrainConfig.for_encoder(encoder, **settings)
        rows.append(run_kefu(train, val, test, cfg, "topic", sentiment, save_to=work / f"{task}-{name}"))
        if layers:
            rows[-1]["system"] += f", first {layers} layers"
        Console(stderr=True).print(rows[-1])
    for row in rows:
        row |= {"task": task, "n_train": len(train), "n_test": len(test)}
    return rows


# what `kefu analyze` runs on: (name, topic model task, input file, columns)
ANALYSES = {
    "headlines": ("nlpcc-e5-small@6", None, {}),
    "headlines-12": ("nlpcc-e5-small", None, {}),
    "tweets": (
        "bitext-e5-small@6",
        datasets.DATA / "twcs_spotify_requests" / "support_requests.csv",
        {"text_col": "text", "time_col": "created_at", "id_col": "tweet_id"},
    ),
}


def headlines_file(work: Path) -> Path:
    """All 36,000 headlines as a CSV of id and text (the labels stay out: analyze is unsupervised)."""
    path = work / "nlpcc_headlines.csv"
    with path.open("w", encoding="utf-8", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["id", "text"])
        writer.writerows(enumerate(e.text for e in datasets.nlpcc_headlines()))
    return path


def analyze_row(name: str, work: Path) -> dict:
    """`kefu analyze` as a user runs it (its own process) with the int8 export of a topic model: texts/s
    and that process's resident memory, sampled every 0.2 s (flat from 10% of the run on: constant memory)."""
    trained, source, columns = ANALYSES[name]
    int8 = work / f"{trained}-int8"
    if not int8.is_dir():
        Model.load(work / trained).export(int8, int8=True)
    source = source or headlines_file(work)
    out = work / f"analyze-{trained}"
    options = [f"--{key.replace('_', '-')}={value}" for key, value in columns.items()]
    command = [str(Path(sys.executable).with_name("kefu")), "analyze", str(source), "--model", str(int8), "--out", str(out)]
    start = time.perf_counter()
    process = subprocess.Popen(command + options, stdout=subprocess.DEVNULL)
    samples = []
    while process.poll() is None:
        if (mb := rss_mb(process.pid)) is not None:
            samples.append((time.perf_counter() - start, mb))
        time.sleep(0.2)
    seconds = time.perf_counter() - start
    if process.returncode:
        raise SystemExit(f"{' '.join(command)} failed")
    summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))

    def at(share: float) -> float:
        return next(mb for t, mb in samples if t >= share * seconds)

    row = {
        "input": name,
        "model": f"{trained} int8",
        "texts": summary["rows_analysed"],
        "skipped": summary["rows_skipped"],
        "command_seconds": seconds,  # loading the model and writing the report included
        "texts_per_second": summary["texts_per_second"],  # the streaming pass, as analyze reports it
        "rss_mb_at_10pct": at(0.1),
        "rss_mb_at_50pct": at(0.5),
        "rss_mb_at_90pct": at(0.9),
        "rss_mb_max": max(mb for _, mb in samples),
        "report": str(out / "report.html"),
    }
    Console(stderr=True).print(row)
    return row


def print_table(rows: list[dict]) -> None:
    table = Table(title=f"kefu topics ({torch.get_num_threads()} threads, {platform.processor() or 'cpu'})")
    for col in ("task", "system", "accuracy %", "macro-F1 %", "train s", "ms p50"):
        table.add_column(col, justify="left" if col in ("task", "system") else "right")
    for r in rows:
        f1 = f"{100 * r['macro_f1']:.2f}" if "macro_f1" in r else "-"
        table.add_row(
            r["task"], r["system"], f"{100 * r['accuracy']:.2f}", f1, f"{r['train_seconds']:.1f}",
            f"{r['predict_ms_p50']:.2f}",
        )
    Console().print(table)


def record(section: str, key: str, rows: list[dict]) -> dict:
    """Merge ``rows`` into RESULTS[section][key] (replacing rows of the same system) and return RESULTS.
    The file is read again for each write: runs of different tasks may overlap."""
    results = json.loads(RESULTS.read_text()) if RESULTS.is_file() else {}
    systems = {r.get("system") for r in rows}
    kept = [r for r in results.setdefault(section, {}).get(key, []) if r.get("system") not in systems]
    results[section][key] = kept + rows
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=2, ensure_ascii=False) + "\n")
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", default=",".join(TASKS), help=f"topic sets to train, from {', '.join(TASKS)} ('' for none)")
    parser.add_argument(
        "--encoders",
        help="kefu encoders to train: scratch, e5-small, e5-small@N (its bottom N layers); default: "
        + "; ".join(f"{task} {encoders}" for task, encoders in TASK_ENCODERS.items()),
    )
    parser.add_argument(
        "--analyses", default=",".join(ANALYSES), help=f"`kefu analyze` runs, from {', '.join(ANALYSES)} ('' for none)"
    )
    parser.add_argument("--work", type=Path, default=Path("/tmp/kefu-bench-topics"), help="models go here")
    args = parser.parse_args()
    torch.set_num_threads(2)
    args.work.mkdir(parents=True, exist_ok=True)
    results = json.loads(RESULTS.read_text()) if RESULTS.is_file() else {}
    for task in args.tasks.split(",") if args.tasks else []:
        encoders = (args.encoders or TASK_ENCODERS[task]).split(",")
        results = record("topics", task, topic_rows(task, encoders, args.work))
    for name in args.analyses.split(",") if args.analyses else []:
        row = analyze_row(name, args.work) | {"system": name}
        results = record("analyze", name, [row])
    print_table([r for rows in results.get("topics", {}).values() for r in rows])
    print_analyses([r for rows in results.get("analyze", {}).values() for r in rows])
    print(f"results written to {RESULTS}")


def print_analyses(rows: list[dict]) -> None:
    table = Table(title="kefu analyze (int8 ONNX encoder, one pass for topic and sentiment)")
    for col in ("input", "model", "texts", "skipped", "texts/s", "RSS MB at 10% / 50% / 90% / max"):
        table.add_column(col, justify="left" if col in ("input", "model") else "right")
    for r in rows:
        rss = " / ".join(f"{r[f'rss_mb_{k}']:.0f}" for k in ("at_10pct", "at_50pct", "at_90pct", "max"))
        table.add_row(r["input"], r["model"], str(r["texts"]), str(r["skipped"]), f"{r['texts_per_second']:.0f}", rss)
    Console().print(table)


if __name__ == "__main__":
    main()
