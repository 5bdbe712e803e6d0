"""One evaluation of an intent model: the numbers, a terminal table, and a self-contained HTML report."""

import copy
import json
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, field
from html import escape
from pathlib import Path

import numpy as np

from kefu.evaluation.calibration import expected_calibration_error
from kefu.evaluation.metrics import (
    classification_metrics,
    confused_pairs,
    misclassified_examples,
    resolve_labels,
)
from kefu.evaluation.plots import plot_confusion_matrix, plot_oos_curve, plot_reliability

_HTML_MISCLASSIFIED = 50
_PER_LABEL_HEADER = ("label", "precision", "recall", "f1", "support")


@dataclass
class EvalReport:
    """Scores of one set of predictions; rates are fractions in [0, 1]."""

    accuracy: float
    macro_f1: float
    n: int
    labels: list[str]
    per_label: dict[str, dict]
    confusion: list[list[int]]
    confused_pairs: list[dict]
    misclassified: list[dict]
    ece: float
    reliability: list[dict]
    extra: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        """A JSON-serialisable copy; the sections in ``extra`` sit at the top level beside the core ones."""
        core = {
            "accuracy": self.accuracy,
            "macro_f1": self.macro_f1,
            "n": self.n,
            "per_label": self.per_label,
            "confused_pairs": self.confused_pairs,
            "misclassified": self.misclassified,
            "ece": self.ece,
            "reliability": self.reliability,
            "labels": self.labels,
            "confusion": self.confusion,
        }
        clashes = core.keys() & self.extra.keys()
        if clashes:
            # Letting an extra section silently replace e.g. "accuracy" would publish a wrong number.
            raise ValueError(f"extra sections clash with core report keys: {sorted(clashes)}")
        # A deep copy, so callers editing the dict cannot change the report behind its back.
        return copy.deepcopy(core | self.extra)

    def summary_table(self) -> str:
        """A plain-text per-label table for terminals, worst F1 first so problems are read first."""
        rows = [_PER_LABEL_HEADER, *_per_label_rows(self.per_label)]
        widths = [max(_display_width(row[col]) for row in rows) for col in range(len(rows[0]))]
        lines = [
            "  ".join(
                _pad(cell, width, right=col > 0)
                for col, (cell, width) in enumerate(zip(row, widths, strict=True))
            )
            for row in rows
        ]
        return "\n".join(lines)


def evaluate_predictions(
    texts: list[str],
    y_true: list[str],
    y_pred: list[str],
    confidences: Sequence[float],
    labels: list[str] | None = None,
) -> EvalReport:
    """Score predictions against gold labels.

    ``labels`` fixes the confusion-matrix order (default: sorted union of gold and predicted labels);
    gold labels missing from it are appended, so examples of intents the model never learnt still count.
    """
    lengths = {len(texts), len(y_true), len(y_pred), len(confidences)}
    if len(lengths) != 1:
        raise ValueError(
            f"texts, y_true, y_pred and confidences differ in length: "
            f"{len(texts)}, {len(y_true)}, {len(y_pred)}, {len(confidences)}"
        )
    if len(y_true) == 0:
        raise ValueError("no predictions to evaluate")

    order = resolve_labels(y_true, y_pred, labels)
    scores = classification_metrics(y_true, y_pred, order)
    correct = np.array([gold == pred for gold, pred in zip(y_true, y_pred, strict=True)])
    ece, reliability = expected_calibration_error(np.asarray(confidences, dtype=float), correct)
    return EvalReport(
        accuracy=scores.accuracy,
        macro_f1=scores.macro_f1,
        n=len(y_true),
        labels=order,
        per_label=scores.per_label,
        confusion=scores.confusion,
        confused_pairs=confused_pairs(scores.confusion, order),
        misclassified=misclassified_examples(texts, y_true, y_pred, confidences),
        ece=ece,
        reliability=reliability,
    )


def write_report(report: EvalReport, out_dir: str | Path, title: str = "kefu evaluation") -> Path:
    """Write report.json, confusion_matrix.png, reliability.png and index.html into ``out_dir``.

    Returns the path of index.html, which references the images by relative path.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    data = report.to_dict()
    (out / "report.json").write_text(json.dumps(data, ensure_ascii=False, indent=2), encoding="utf-8")
    plot_confusion_matrix(report.confusion, report.labels, out / "confusion_matrix.png")
    plot_reliability(report.reliability, report.ece, out / "reliability.png")
    if report.extra.get("oos_curve"):
        chosen = (report.extra.get("oos_threshold") or {}).get("value")
        plot_oos_curve(report.extra["oos_curve"], chosen, out / "oos_curve.png")
    index = out / "index.html"
    index.write_text(_render_html(report, title), encoding="utf-8")
    return index


def _per_label_rows(per_label: dict[str, dict]) -> list[tuple[str, ...]]:
    """Formatted per-label rows, worst F1 first; among equal F1 the label with more examples comes first."""
    ranked = sorted(per_label.items(), key=lambda item: (item[1]["f1"], -item[1]["support"], item[0]))
    return [
        (label, f"{s['precision']:.3f}", f"{s['recall']:.3f}", f"{s['f1']:.3f}", str(s["support"]))
        for label, s in ranked
    ]


def _display_width(text: str) -> int:
    """Terminal columns taken by ``text``: wide (e.g. Chinese) characters take two."""
    return sum(2 if unicodedata.east_asian_width(char) in "WF" else 1 for char in text)


def _pad(text: str, width: int, right: bool) -> str:
    """Pad ``text`` to ``width`` terminal columns, right-aligned for numbers."""
    fill = " " * (width - _display_width(text))
    return fill + text if right else text + fill


def _percent(value: float) -> str:
    """A fraction as a percentage with two decimals, e.g. 0.98765 -> '98.77%'."""
    return f"{value * 100:.2f}%"


def _table(header: Sequence[str], rows: list[Sequence[object]]) -> str:
    """An HTML table; every cell is escaped because labels and texts come from customer data."""
    head = "".join(f"<th>{escape(str(cell))}</th>" for cell in header)
    body = "".join(
        "<tr>" + "".join(f"<td>{escape(str(cell))}</td>" for cell in row) + "</tr>" for row in rows
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


REPORT_CSS = """
body { font-family: system-ui, "Noto Sans CJK SC", "Microsoft YaHei", "PingFang SC", sans-serif;
       margin: 2em auto; max-width: 1100px; padding: 0 1em; color: #222; }
.headline { display: flex; gap: 1em; flex-wrap: wrap; }
.headline div { border: 1px solid #ccc; border-radius: 6px; padding: 0.6em 1.2em; }
.headline b { display: block; font-size: 1.6em; }
table { border-collapse: collapse; margin: 1em 0; }
th, td { border: 1px solid #ddd; padding: 0.3em 0.6em; text-align: left; vertical-align: top; }
th { background: #f4f4f4; }
img { max-width: 100%; border: 1px solid #eee; }
pre { background: #f7f7f7; padding: 1em; overflow-x: auto; }
"""


# the out-of-scope section draws these; "Other sections" shows the rest of ``extra`` as JSON
_OOS_KEYS = frozenset(
    {"in_scope_accuracy", "oos_recall", "oos_precision", "oos_auroc", "n_in_scope", "n_oos", "oos_threshold", "oos_curve"}
)
_CURVE_ROWS = 11  # thresholds 0, 0.1, ..., 1 of the sweep: its shape (the plot shows every point)


def _rate(value: float | None) -> str:
    return "-" if value is None else _percent(value)


def _oos_section(extra: dict) -> list[str]:
    """The out-of-scope scores, the threshold in use, the plot and a short table of the threshold sweep."""
    scores = _table(
        ("in-scope accuracy", "out-of-scope recall", "out-of-scope precision", "AUROC", "examples"),
        [
            (
                *(_rate(extra.get(k)) for k in ("in_scope_accuracy", "oos_recall", "oos_precision", "oos_auroc")),
                f"{extra.get('n_in_scope', '-')} in scope, {extra.get('n_oos', '-')} out of scope",
            )
        ],
    )
    chosen = extra.get("oos_threshold") or {}
    threshold = (
        f"<p>Threshold in use: {chosen['value']:.2f} ({escape(str(chosen.get('method')))}, "
        f"{chosen.get('n_val')} validation examples).</p>"
        if chosen.get("value") is not None
        else "<p>No threshold: only the out-of-scope class rejects messages.</p>"
    )
    curve = extra["oos_curve"]
    rows = sorted({round(i * (len(curve) - 1) / (_CURVE_ROWS - 1)) for i in range(_CURVE_ROWS)})
    sweep = _table(
        ("threshold", "in-scope accuracy", "out-of-scope recall"),
        [
            (f"{p['threshold']:.2f}", _rate(p["in_scope_accuracy"]), _rate(p["oos_recall"]))
            for p in (curve[i] for i in rows)
        ],
    )
    return [
        "<h2>Out-of-scope detection</h2>",
        scores,
        threshold,
        '<img src="oos_curve.png" alt="in-scope accuracy against out-of-scope recall">',
        "<h3>Threshold sweep</h3>",
        sweep,
    ]


def _render_html(report: EvalReport, title: str) -> str:
    """The report as one self-contained page: inline CSS, no scripts, images beside it by relative path."""
    headline = "".join(
        f"<div>{name}<b>{value}</b></div>"
        for name, value in (
            ("Accuracy", _percent(report.accuracy)),
            ("Macro-F1", _percent(report.macro_f1)),
            ("Examples", str(report.n)),
            ("ECE", _percent(report.ece)),
        )
    )
    per_label = _table(_PER_LABEL_HEADER, _per_label_rows(report.per_label))
    pairs = _table(
        ("true", "predicted", "count"),
        [(pair["true"], pair["predicted"], pair["count"]) for pair in report.confused_pairs],
    )
    shown = report.misclassified[:_HTML_MISCLASSIFIED]
    mistakes = _table(
        ("text", "true", "predicted", "confidence"),
        [(m["text"], m["true"], m["predicted"], _percent(m["confidence"])) for m in shown],
    )
    sections = [
        f"<h1>{escape(title)}</h1>",
        f'<div class="headline">{headline}</div>',
        "<h2>Per-label scores (worst F1 first)</h2>",
        per_label,
        "<h2>Most confused pairs</h2>",
        pairs if report.confused_pairs else "<p>No confusions.</p>",
        f"<h2>Misclassified examples (most confident first, {len(shown)} shown)</h2>",
        mistakes if shown else "<p>No mistakes.</p>",
        "<h2>Confusion matrix</h2>",
        '<a href="confusion_matrix.png"><img src="confusion_matrix.png" alt="confusion matrix"></a>',
        "<h2>Reliability</h2>",
        '<img src="reliability.png" alt="reliability diagram">',
    ]
    drawn = _OOS_KEYS if report.extra.get("oos_curve") else frozenset()
    if drawn:
        sections += _oos_section(report.extra)
    rest = {k: v for k, v in report.extra.items() if k not in drawn}
    if rest:
        extra = json.dumps(rest, ensure_ascii=False, indent=2)
        sections += ["<h2>Other sections</h2>", f"<pre>{escape(extra)}</pre>"]
    body = "\n".join(sections)
    return (
        '<!DOCTYPE html>\n<html>\n<head>\n<meta charset="utf-8">\n'
        f"<title>{escape(title)}</title>\n<style>{REPORT_CSS}</style>\n</head>\n<body>\n{body}\n</body>\n</html>\n"
    )
