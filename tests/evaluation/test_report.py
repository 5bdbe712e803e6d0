"""EvalReport serialisation, the terminal table, and the files write_report leaves behind."""

import json
import unicodedata
import warnings

import pytest

from kefu.evaluation import EvalReport, evaluate_predictions, write_report
from kefu.nlu.oos import oos_metrics, threshold_curve

XSS = "<script>alert('退款')</script>"


@pytest.fixture
def report() -> EvalReport:
    return evaluate_predictions(
        texts=["我要退款", XSS, "where is my parcel", "hello"],
        y_true=["退款", "退款", "shipping", "greeting"],
        y_pred=["退款", "shipping", "shipping", "shipping"],
        confidences=[0.95, 0.9, 0.8, 0.4],
    )


def test_to_dict_has_every_section_and_merges_extra(report):
    report.extra["out_of_scope"] = {"recall": 0.5}

    data = report.to_dict()

    assert list(data) == [
        "accuracy",
        "macro_f1",
        "n",
        "per_label",
        "confused_pairs",
        "misclassified",
        "ece",
        "reliability",
        "labels",
        "confusion",
        "out_of_scope",
    ]
    assert data["out_of_scope"] == {"recall": 0.5}
    assert data["accuracy"] == pytest.approx(0.5)


def test_extra_cannot_overwrite_core_keys(report):
    report.extra["accuracy"] = 1.0

    with pytest.raises(ValueError, match="accuracy"):
        report.to_dict()


def test_summary_table_lists_worst_label_first(report):
    lines = report.summary_table().splitlines()

    assert lines[0].split() == ["label", "precision", "recall", "f1", "support"]
    # greeting: never right (F1 0); shipping: P 1/3 R 1 F1 1/2; 退款: P 1 R 1/2 F1 2/3.
    assert [line.split()[0] for line in lines[1:]] == ["greeting", "shipping", "退款"]
    assert lines[3].split()[1:] == ["1.000", "0.500", "0.667", "2"]
    # Chinese characters take two terminal columns; padding accounts for it so the columns line up.
    widths = {sum(2 if unicodedata.east_asian_width(c) == "W" else 1 for c in line) for line in lines}
    assert len(widths) == 1


def test_write_report_creates_all_files(report, tmp_path):
    out_dir = tmp_path / "nested" / "eval"

    index = write_report(report, out_dir, title="Shop <bot>")

    assert index == out_dir / "index.html"
    for name in ("report.json", "confusion_matrix.png", "reliability.png", "index.html"):
        assert (out_dir / name).stat().st_size > 0
    data = json.loads((out_dir / "report.json").read_text(encoding="utf-8"))
    assert data["accuracy"] == report.accuracy
    assert data["labels"] == report.labels
    # ensure_ascii=False keeps Chinese readable in the JSON file.
    assert "退款" in (out_dir / "report.json").read_text(encoding="utf-8")


def test_html_escapes_texts_and_keeps_chinese(report, tmp_path):
    page = write_report(report, tmp_path, title="Shop <bot>").read_bytes().decode("utf-8")

    assert '<meta charset="utf-8">' in page
    assert "<script" not in page
    assert "&lt;script&gt;" in page
    assert "Shop &lt;bot&gt;" in page
    assert "<td>退款</td>" in page
    assert '<img src="confusion_matrix.png"' in page
    assert '<img src="reliability.png"' in page
    assert "50.00%" in page  # accuracy as a percentage


def test_html_shows_at_most_50_misclassified(tmp_path):
    n = 120
    report = evaluate_predictions([f"msg-{i}" for i in range(n)], ["a"] * n, ["b"] * n, [0.5] * n)

    page = write_report(report, tmp_path).read_text(encoding="utf-8")

    assert len(report.misclassified) == n
    assert "msg-49<" in page
    assert "msg-50<" not in page


def test_hundred_label_report_renders_without_glyph_warnings(tmp_path):
    labels = [f"意图{i}" for i in range(100)]
    y_true = [label for label in labels for _ in range(3)]
    y_pred = [labels[(i // 3 + i % 2) % 100] for i in range(len(y_true))]
    report = evaluate_predictions(y_true, y_true, y_pred, [0.7] * len(y_true))

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        write_report(report, tmp_path)

    assert len(report.labels) == 100
    assert (tmp_path / "confusion_matrix.png").stat().st_size > 0
    assert not [w for w in caught if "Glyph" in str(w.message)]


def test_html_shows_the_threshold_curve_as_a_short_table_not_raw_json(report, tmp_path):
    gold, best = ["退款", "out_of_scope", "shipping", "out_of_scope"], ["退款", "shipping", "shipping", "退款"]
    report.extra.update(oos_metrics(gold, ["退款", "out_of_scope", "shipping", "shipping"], [0.1, 0.9, 0.2, 0.4]))
    report.extra["oos_threshold"] = {"value": 0.5, "method": "val_f1", "n_val": 4}
    report.extra["oos_curve"] = threshold_curve(gold, best, [0.9, 0.1, 0.8, 0.6], [False] * 4)
    report.extra["sentiment"] = {"accuracy": 0.75, "macro_f1": 0.7, "n": 4}

    page = write_report(report, tmp_path).read_text(encoding="utf-8")

    assert len(report.extra["oos_curve"]) == 101
    assert "&quot;threshold&quot;" not in page and "&quot;oos_curve&quot;" not in page  # no dump of its points
    assert '<img src="oos_curve.png"' in page
    curve = page.split("Threshold sweep")[1].split("</table>")[0]
    assert curve.count("<tr>") == 1 + 11  # header, then every 0.1 from 0 to 1
    assert "<td>0.50</td><td>100.00%</td><td>50.00%</td>" in curve
    assert "0.50 (val_f1, 4 validation examples)" in page  # the threshold the model uses
    # sections the page does not draw still appear, and only they
    other = page.split("Other sections")[1]
    assert "&quot;sentiment&quot;" in other
    assert "&quot;oos_threshold&quot;" not in other and "&quot;in_scope_accuracy&quot;" not in other
