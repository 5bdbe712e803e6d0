"""Distributed training benchmark: BANKING77, scratch encoder, `kefu train` in 1 process and with `--nproc 2`.

Both runs use the same settings and the split bench_nlu.py uses (validation: 10% of train, stratified,
seed 0), go through `kefu train` (which skips the 4 duplicate training rows) and are scored on the test
set by the top intent, as bench_nlu.py scores them.

    python benchmarks/bench_ddp.py                                   # the full run (tens of minutes)
    python benchmarks/bench_ddp.py --limit 1500 --set '{"epochs": 2}'  # a quick check that it works

Prints a table and writes benchmarks/results/ddp.json (not after a --limit check).
"""

import argparse
import csv
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from rich.console import Console
from rich.table import Table

sys.path.insert(0, str(Path(__file__).resolve().parent))
import datasets

from kefu.nlu.model import Model
from kefu.training import TrainConfig

RESULTS = Path(__file__).resolve().parent / "results" / "ddp.json"


def write_csv(path: Path, examples) -> Path:
    with path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(["text", "intent"])
        writer.writerows([e.text, e.label] for e in examples)
    return path


def run(nproc: int, folder: Path, test) -> dict:
    """`kefu train` with `nproc` processes on the files in `folder`; the model's scores on `test`."""
    out = folder / f"model-{nproc}"
    command = [sys.executable, "-m", "kefu", "train", str(folder / "train.csv"), "--val", str(folder / "val.csv")]
    command += ["--config", str(folder / "config.json"), "--out", str(out)]
    if nproc > 1:
        command += ["--nproc", str(nproc)]
    start = time.perf_counter()
    subprocess.run(command, check=True, env=dict(os.environ, HF_HUB_OFFLINE="1"))
    wall = time.perf_counter() - start
    model = Model.load(out)
    top = model.predict_proba([e.text for e in test]).argmax(-1).tolist()
    m = model.metrics
    return {
        "processes": nproc,
        "accuracy": sum(model.labels[i] == e.label for i, e in zip(top, test, strict=True)) / len(test),
        "val_accuracy": m.get("val_accuracy"),
        "best_epoch": m.get("best_epoch"),
        "epochs_run": len(m["history"]),
        "train_seconds": m["train_seconds"],
        "wall_seconds": wall,
        "n_train": m["n_train"],
    }


def print_table(rows: list[dict], title: str) -> None:
    table = Table(title=title)
    columns = ("processes", "test accuracy %", "val accuracy %", "best epoch", "epochs", "train s", "wall s")
    for col in columns:
        table.add_column(col, justify="right")
    for r in rows:
        table.add_row(
            str(r["processes"]), f"{100 * r['accuracy']:.2f}", f"{100 * r['val_accuracy']:.2f}",
            str(r["best_epoch"]), str(r["epochs_run"]), f"{r['train_seconds']:.1f}", f"{r['wall_seconds']:.1f}",
        )
    Console().print(table)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nproc", default="1,2", help="comma-separated process counts to compare")
    parser.add_argument("--set", default="{}", help='JSON TrainConfig overrides, e.g. \'{"epochs": 4}\'')
    parser.add_argument("--limit", type=int, help="sample this many rows of each split (a quick check)")
    args = parser.parse_args()
    cfg = TrainConfig.for_encoder("scratch", **json.loads(args.set))
    train, val, test = datasets.banking77()
    if args.limit:
        train, val, test = (datasets.sample(part, args.limit) for part in (train, val, test))
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        write_csv(folder / "train.csv", train)
        write_csv(folder / "val.csv", val)
        (folder / "config.json").write_text(json.dumps(cfg.to_dict()))
        for n in (int(x) for x in args.nproc.split(",")):
            rows.append(run(n, folder, test))
            Console(stderr=True).print(rows[-1])
    title = f"BANKING77, scratch encoder: kefu train in 1 and more processes ({os.cpu_count()} cores)"
    print_table(rows, title)
    one = next((r for r in rows if r["processes"] == 1), None)
    for r in rows:
        if one is not None and r is not one:
            r["accuracy_gap_points"] = 100 * (r["accuracy"] - one["accuracy"])
            print(f"{r['processes']} processes: {r['accuracy_gap_points']:+.2f} accuracy points against 1")
    if args.limit:
        print(f"not written to {RESULTS}: --limit runs are checks, not results")
        return
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    result = {
        "task": "banking77",
        "encoder": "scratch",
        "config": cfg.to_dict(),
        "cpus": os.cpu_count(),
        "machine": platform.processor() or platform.machine(),
        "n_test": len(test),
        "rows": rows,
    }
    RESULTS.write_text(json.dumps(result, indent=2) + "\n")
    print(f"results written to {RESULTS}")

if __name__ == "__main__":
    main()
