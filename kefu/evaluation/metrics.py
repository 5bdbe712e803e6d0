"""Classification metrics, the most confused label pairs and the mistakes worth reading first."""

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from sklearn.metrics import accuracy_score, confusion_matrix, f1_score, precision_recall_fscore_support


@dataclass(frozen=True)
class ClassificationMetrics:
    """Headline and per-label scores of one set of predictions."""

    accuracy: float
    macro_f1: float
    per_label: dict[str, dict]
    confusion: list[list[int]]


def resolve_labels(
    y_true: Sequence[str], y_pred: Sequence[str], labels: Sequence[str] | None = None
) -> list[str]:
    """The label order for the confusion matrix: ``labels`` first, then any other label seen, sorted.

    Gold labels the model never knew are appended rather than dropped, so their examples still count.
    """
    seen = set(y_true) | set(y_pred)
    if labels is None:
        return sorted(seen)
    ordered = list(dict.fromkeys(labels))
    return ordered + sorted(seen - set(ordered))


def classification_metrics(
    y_true: Sequence[str], y_pred: Sequence[str], labels: list[str]
) -> ClassificationMetrics:
    """Accuracy, macro-F1, per-label precision/recall/F1/support and the confusion matrix (rows = true).

    Macro-F1 averages over the labels that occur in ``y_true`` or ``y_pred`` only: a known label with no
    test examples and no predictions has nothing to score and must not drag the average down.
    """
    precision, recall, f1, support = precision_recall_fscore_support(
        y_true, y_pred, labels=labels, zero_division=0
    )
    per_label = {
        label: {"precision": float(p), "recall": float(r), "f1": float(f), "support": int(s)}
        for label, p, r, f, s in zip(labels, precision, recall, f1, support, strict=True)
    }
    confusion = confusion_matrix(y_true, y_pred, labels=labels)
    return ClassificationMetrics(
        accuracy=float(accuracy_score(y_true, y_pred)),
        macro_f1=float(f1_score(y_true, y_pred, average="macro", zero_division=0)),
        per_label=per_label,
        confusion=confusion.astype(int).tolist(),
    )


def confused_pairs(confusion: list[list[int]], labels: list[str], top: int = 20) -> list[dict]:
    """Off-diagonal cells of the confusion matrix, most frequent first; ties break by label order."""
    matrix = np.asarray(confusion)
    pairs = [
        {"true": labels[i], "predicted": labels[j], "count": int(matrix[i, j])}
        for i, j in zip(*np.nonzero(matrix), strict=True)
        if i != j
    ]
    # sorted() is stable and np.nonzero walks row-major, so equal counts keep the labels' order.
    return sorted(pairs, key=lambda pair: -pair["count"])[:top]


def misclassified_examples(
    texts: Sequence[str],
    y_true: Sequence[str],
    y_pred: Sequence[str],
    confidences: Sequence[float],
    limit: int = 200,
) -> list[dict]:
    """Wrong predictions, confident mistakes first: those are the likely label noise or real blind spots."""
    mistakes = [
        {"text": text, "true": gold, "predicted": pred, "confidence": float(conf)}
        for text, gold, pred, conf in zip(texts, y_true, y_pred, confidences, strict=True)
        if gold != pred
    ]
    return sorted(mistakes, key=lambda example: -example["confidence"])[:limit]
