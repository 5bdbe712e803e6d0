"""Metrics on small cases computed by hand."""

import pytest

from kefu.evaluation import evaluate_predictions
from kefu.evaluation.metrics import confused_pairs, misclassified_examples, resolve_labels

# a: TP 2, FP 0, FN 1 -> P 1,   R 2/3, F1 0.8
# b: TP 1, FP 1, FN 1 -> P 1/2, R 1/2, F1 1/2
# c: TP 1, FP 1, FN 0 -> P 1/2, R 1,   F1 2/3
Y_TRUE = ["a", "a", "a", "b", "b", "c"]
Y_PRED = ["a", "a", "b", "b", "c", "c"]


def _report(y_true, y_pred, confidences=None, labels=None):
    confidences = confidences or [0.9] * len(y_true)
    texts = [f"text {i}" for i in range(len(y_true))]
    return evaluate_predictions(texts, y_true, y_pred, confidences, labels=labels)


def test_three_label_scores_match_hand_computation():
    report = _report(Y_TRUE, Y_PRED)

    assert report.n == 6
    assert report.accuracy == pytest.approx(4 / 6)
    assert report.macro_f1 == pytest.approx((0.8 + 0.5 + 2 / 3) / 3)
    assert report.labels == ["a", "b", "c"]
    assert report.per_label["a"] == pytest.approx(
        {"precision": 1.0, "recall": 2 / 3, "f1": 0.8, "support": 3}
    )
    assert report.per_label["b"] == pytest.approx({"precision": 0.5, "recall": 0.5, "f1": 0.5, "support": 2})
    assert report.per_label["c"] == pytest.approx(
        {"precision": 0.5, "recall": 1.0, "f1": 2 / 3, "support": 1}
    )
    assert report.confusion == [[2, 1, 0], [0, 1, 1], [0, 0, 1]]


def test_given_label_order_is_kept_for_the_confusion_matrix():
    report = _report(Y_TRUE, Y_PRED, labels=["c", "b", "a"])

    assert report.labels == ["c", "b", "a"]
    assert report.confusion == [[1, 0, 0], [1, 1, 0], [0, 1, 2]]


def test_unseen_gold_label_is_counted():
    # The model only knows a and b; "refund" examples must still appear, all wrong.
    report = _report(["a", "b", "refund", "refund"], ["a", "b", "a", "b"], labels=["a", "b"])

    assert report.labels == ["a", "b", "refund"]
    assert report.per_label["refund"] == {"precision": 0.0, "recall": 0.0, "f1": 0.0, "support": 2}
    assert report.confusion[2] == [1, 1, 0]
    assert report.accuracy == pytest.approx(0.5)
    # a: P 1/2 R 1 F1 2/3; b likewise; refund 0.
    assert report.macro_f1 == pytest.approx((2 / 3 + 2 / 3 + 0) / 3)


def test_known_label_without_examples_does_not_lower_macro_f1():
    report = _report(["a", "b"], ["a", "b"], labels=["a", "b", "never_seen"])

    assert report.per_label["never_seen"]["support"] == 0
    assert report.macro_f1 == pytest.approx(1.0)


def test_resolve_labels_appends_unknown_labels_sorted():
    assert resolve_labels(["z", "a"], ["m"], None) == ["a", "m", "z"]
    assert resolve_labels(["z", "a"], ["m"], ["m", "x"]) == ["m", "x", "a", "z"]


def test_confused_pairs_most_frequent_first_and_off_diagonal_only():
    labels = ["a", "b", "c"]
    confusion = [
        [5, 1, 3],  # a->c 3, a->b 1
        [0, 9, 1],  # b->c 1
        [2, 0, 7],  # c->a 2
    ]

    pairs = confused_pairs(confusion, labels)

    assert pairs == [
        {"true": "a", "predicted": "c", "count": 3},
        {"true": "c", "predicted": "a", "count": 2},
        {"true": "a", "predicted": "b", "count": 1},
        {"true": "b", "predicted": "c", "count": 1},
    ]
    assert confused_pairs(confusion, labels, top=2) == pairs[:2]


def test_confused_pairs_keep_top_20():
    labels = [f"l{i}" for i in range(30)]
    # Every label is mistaken for the next one, l{i} -> l{i+1} i+1 times.
    confusion = [[0] * 30 for _ in labels]
    for i in range(29):
        confusion[i][i + 1] = i + 1

    pairs = confused_pairs(confusion, labels)

    assert len(pairs) == 20
    assert pairs[0] == {"true": "l28", "predicted": "l29", "count": 29}
    assert [p["count"] for p in pairs] == list(range(29, 9, -1))


def test_misclassified_are_confident_mistakes_first():
    mistakes = misclassified_examples(
        ["ok", "low", "high", "mid"],
        ["a", "a", "b", "c"],
        ["a", "b", "a", "a"],
        [0.99, 0.2, 0.95, 0.6],
    )

    assert [m["text"] for m in mistakes] == ["high", "mid", "low"]
    assert mistakes[0] == {"text": "high", "true": "b", "predicted": "a", "confidence": 0.95}


def test_misclassified_are_capped():
    n = 250
    mistakes = misclassified_examples(["t"] * n, ["a"] * n, ["b"] * n, [i / n for i in range(n)])

    assert len(mistakes) == 200
    assert mistakes[0]["confidence"] == pytest.approx((n - 1) / n)


def test_mismatched_lengths_are_rejected():
    with pytest.raises(ValueError, match="differ in length"):
        evaluate_predictions(["x"], ["a", "b"], ["a", "b"], [0.5, 0.5])
