"""The redaction benchmark: recall per kind of personal data and false positives on look-alike messages,
over the corpus of tests/privacy (customer messages in Chinese and English).

Run: .venv/bin/python benchmarks/bench_privacy.py   (writes benchmarks/results/privacy.json)
"""

import json
import platform
import time
from pathlib import Path

from rich.console import Console
from rich.table import Table

from kefu.privacy import Redactor
from kefu.privacy.scoring import CorpusScore, read_corpus, score_corpus

ROOT = Path(__file__).resolve().parent
CORPUS = ROOT.parent / "tests" / "privacy" / "corpus.jsonl"
RESULTS = ROOT / "results" / "privacy.json"


def table(score: CorpusScore) -> Table:
    """Found/total and recall per type, then the look-alike false positives."""
    out = Table(title="PII redaction (tests/privacy/corpus.jsonl)")
    for column in ("type", "found / total", "recall"):
        out.add_column(column, justify="left" if column == "type" else "right")
    for pii_type in sorted(score.total):
        out.add_row(pii_type, f"{score.found[pii_type]} / {score.total[pii_type]}", f"{score.recall(pii_type):.1%}")
    out.add_row("all", f"{sum(score.found.values())} / {sum(score.total.values())}", f"{score.recall():.1%}")
    out.add_section()
    out.add_row("look-alikes redacted", f"{len(score.false_positives)} / {score.lookalikes}",
                f"{score.false_positive_rate:.1%}")
    out.add_row("extra spans in PII messages", str(score.extra_spans), "")
    return out


def main() -> None:
    rows = read_corpus(CORPUS)
    redactor = Redactor()
    start = time.perf_counter()
    score = score_corpus(redactor, rows)
    ms_per_message = (time.perf_counter() - start) * 1000 / len(rows)
    console = Console()
    console.print(table(score))
    for pii_type, text in score.missed:
        console.print(f"missed {pii_type}: {text}", markup=False)
    for text in score.false_positives:
        console.print(f"false positive: {text}", markup=False)
    console.print(f"{ms_per_message:.2f} ms per message")
    result = {
        "corpus": str(CORPUS.relative_to(ROOT.parent)),
        "messages": len(rows),
        "per_type": {t: {"found": score.found[t], "total": score.total[t], "recall": score.recall(t)}
                     for t in sorted(score.total)},
        "recall": score.recall(),
        "lookalike_messages": score.lookalikes,
        "false_positives": len(score.false_positives),
        "false_positive_rate": score.false_positive_rate,
        "extra_spans_in_pii_messages": score.extra_spans,
        "missed": [{"type": t, "text": text} for t, text in score.missed],
        "false_positive_texts": score.false_positives,
        "ms_per_message": ms_per_message,
        "python": platform.python_version(),
    }
    RESULTS.write_text(json.dumps(result, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"results written to {RESULTS}")


if __name__ == "__main__":
    main()
