"""The core benchmark: kefu's from-scratch encoder against TF-IDF + linear SVM, side by side.

Run with `make bench`. Prints a table and writes benchmarks/results/core.json.
"""

import json
import platform
import sys
import tempfile
import time
from pathlib import Path

import torch
from rich.console import Console
from rich.table import Table
from sklearn.metrics import accuracy_score, f1_score

sys.path.insert(0, str(Path(__file__).resolve().parent))
import datasets
from common import LATENCY_SAMPLES, dir_bytes, p50_ms, run_baseline

import kefu
from kefu.training import TrainConfig

RESULTS = Path(__file__).resolve().parent / "results" / "core.json"


def run_kefu(train, val, test, config: TrainConfig) -> dict:
    start = time.perf_counter()
    model = kefu.train(train, config, val=val)
    seconds = time.perf_counter() - start
    texts, gold = [e.text for e in test], [e.label for e in test]
    predictions = model.predict(texts)
    # Closed-set accuracy (the top intent, as the baseline answers) is the figure comparable with the SVM;
    # the out-of-scope rejection the model adds on top is reported beside it.
    pred = [p.ranking[0]["intent"] for p in predictions]
    with tempfile.TemporaryDirectory() as tmp:
        size = dir_bytes(model.save(Path(tmp) / "m"))
    return {
        "system": "kefu scratch",
        "accuracy": accuracy_score(gold, pred),
        "macro_f1": f1_score(gold, pred, average="macro"),
        "accuracy_with_oos_rejection": accuracy_score(gold, [p.intent for p in predictions]),
        "oos_threshold": model.oos.to_dict() if model.oos else None,
        "train_seconds": seconds,
        "predict_ms_p50": p50_ms(model.predict, datasets.sample(texts, LATENCY_SAMPLES)),
        "model_bytes": size,
        "best_epoch": model.metrics.get("best_epoch"),
    }


def main() -> None:
    torch.set_num_threads(2)
    config = TrainConfig()
    rows = []
    # CAIS is read with its slot annotations: the entity head trained beside the intent head scored higher
    # on CAIS validation (96.38 against 96.18 without), so that is the model kefu ships for such data.
    for name, loader in [("banking77", datasets.banking77), ("cais", datasets.cais_slots)]:
        train, val, test = loader()
        for row in (run_baseline(train, test), run_kefu(train, val, test, config)):
            row["dataset"] = name
            rows.append(row)
            Console(stderr=True).print(row)
    table = Table(title=f"kefu core benchmark ({torch.get_num_threads()} threads, {platform.processor() or 'cpu'})")
    columns = ["dataset", "system", "accuracy %", "macro-F1 %", "acc. with OOS reject %", "train s", "predict ms p50",
               "size MB"]
    for col in columns:
        table.add_column(col, justify="left" if col in ("dataset", "system") else "right")
    for r in rows:
        table.add_row(
            r["dataset"],
            r["system"],
            f"{100 * r['accuracy']:.2f}",
            f"{100 * r['macro_f1']:.2f}",
            f"{100 * r['accuracy_with_oos_rejection']:.2f}" if "accuracy_with_oos_rejection" in r else "-",
            f"{r['train_seconds']:.1f}",
            f"{r['predict_ms_p50']:.2f}",
            f"{r['model_bytes'] / 1e6:.1f}",
        )
    Console().print(table)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps({"config": config.to_dict(), "rows": rows}, indent=2) + "\n")
    print(f"results written to {RESULTS}")


if __name__ == "__main__":
    main()
