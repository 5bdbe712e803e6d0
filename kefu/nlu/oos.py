"""Out-of-scope detection: when should the model say "I don't know" instead of naming an intent?

A message is out of scope when the model's best in-scope probability falls below a threshold, or when
the training data had out-of-scope examples (gold label ``oos`` or ``out_of_scope``) and that class wins.
The threshold is always chosen on validation data, never on test data:

* with out-of-scope examples in validation, the threshold maximises in-scope accuracy + out-of-scope
  recall (both matter equally to a customer: a wrong answer and a missed "I can't help" both hurt);
* without them, it rejects a fixed small share of in-scope validation messages (``reject_rate``), the
  only honest choice when nothing out of scope has been seen.
"""

from dataclasses import dataclass

import numpy as np
from sklearn.metrics import roc_auc_score

OOS_LABEL = "out_of_scope"
OOS_ALIASES = frozenset({"oos", "out_of_scope", "out-of-scope"})


def is_oos(label: str) -> bool:
    return label.lower() in OOS_ALIASES


def canonical_label(label: str) -> str:
    """Every spelling of out-of-scope becomes `OOS_LABEL`, so data sets with `oos` and ours agree."""
    return OOS_LABEL if is_oos(label) else label


@dataclass(frozen=True)
class Threshold:
    value: float
    method: str  # "validation-oos" or "reject-rate"
    n_val: int

    def to_dict(self) -> dict:
        return {"value": self.value, "method": self.method, "n_val": self.n_val}


def in_scope_scores(probs: np.ndarray, labels: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """(best in-scope label index, its probability) per row; the out-of-scope class never counts as best."""
    probs = np.asarray(probs, dtype=float)
    masked = probs.copy()
    if OOS_LABEL in labels:
        masked[:, labels.index(OOS_LABEL)] = -1.0
    best = masked.argmax(axis=1)
    return best, probs[np.arange(len(probs)), best]


def decide(probs: np.ndarray, labels: list[str], threshold: float | None) -> list[bool]:
    """Per row: is the message out of scope?"""
    probs = np.asarray(probs, dtype=float)
    _, score = in_scope_scores(probs, labels)
    oos = np.zeros(len(probs), dtype=bool)
    if OOS_LABEL in labels:
        oos |= probs.argmax(axis=1) == labels.index(OOS_LABEL)
    if threshold is not None:
        oos |= score < threshold
    return oos.tolist()


def choose_threshold(
    probs: np.ndarray, labels: list[str], gold: list[str], reject_rate: float = 0.02
) -> Threshold:
    """Pick the threshold on validation predictions `probs` with gold labels `gold`."""
    probs = np.asarray(probs, dtype=float)
    best, score = in_scope_scores(probs, labels)
    gold_oos = np.array([is_oos(g) for g in gold])
    if not len(gold):
        raise ValueError("choose_threshold needs validation examples")
    if not gold_oos.any():
        # No out-of-scope example seen: reject the least confident `reject_rate` of in-scope messages.
        return Threshold(float(np.quantile(score, reject_rate)), "reject-rate", len(gold))
    right = np.array([labels[b] == g for b, g in zip(best, gold, strict=True)]) & ~gold_oos
    class_says_oos = np.zeros(len(gold), dtype=bool)
    if OOS_LABEL in labels:
        class_says_oos = probs.argmax(axis=1) == labels.index(OOS_LABEL)
    candidates = np.unique(np.concatenate([[0.0], score, [1.0 + 1e-9]]))
    best_t, best_obj = 0.0, -1.0
    n_in, n_oos = max(1, int((~gold_oos).sum())), int(gold_oos.sum())
    for t in candidates:
        rejected = class_says_oos | (score < t)
        objective = (right & ~rejected).sum() / n_in + (gold_oos & rejected).sum() / n_oos
        if objective > best_obj + 1e-12:
            best_t, best_obj = float(t), objective
    return Threshold(best_t, "validation-oos", len(gold))


def oos_metrics(gold: list[str], pred: list[str], oos_score: list[float]) -> dict:
    """In-scope accuracy, out-of-scope recall/precision and AUROC of `oos_score` (higher = more likely OOS).

    In-scope accuracy counts an in-scope message rejected as out of scope as wrong, as a customer would.
    """
    gold_oos = np.array([is_oos(g) for g in gold])
    pred_oos = np.array([is_oos(p) for p in pred])
    in_scope = ~gold_oos
    correct = np.array([g == p for g, p in zip(gold, pred, strict=True)])
    result = {
        "in_scope_accuracy": float(correct[in_scope].mean()) if in_scope.any() else None,
        "oos_recall": float(pred_oos[gold_oos].mean()) if gold_oos.any() else None,
        "oos_precision": float(gold_oos[pred_oos].mean()) if pred_oos.any() else None,
        "oos_auroc": None,
        "n_in_scope": int(in_scope.sum()),
        "n_oos": int(gold_oos.sum()),
    }
    if gold_oos.any() and in_scope.any():
        result["oos_auroc"] = float(roc_auc_score(gold_oos, np.asarray(oos_score, dtype=float)))
    return result


def threshold_curve(
    gold: list[str], best_label: list[str], score: list[float], class_says_oos: list[bool], points: int = 101
) -> list[dict]:
    """In-scope accuracy and out-of-scope recall as the threshold sweeps 0..1 (for the report's plot)."""
    gold_oos = np.array([is_oos(g) for g in gold])
    score = np.asarray(score, dtype=float)
    forced = np.asarray(class_says_oos, dtype=bool)
    right = np.array([b == g for b, g in zip(best_label, gold, strict=True)]) & ~gold_oos
    curve = []
    for t in np.linspace(0.0, 1.0, points):
        rejected = forced | (score < t)
        curve.append(
            {
                "threshold": float(t),
                "in_scope_accuracy": float((right & ~rejected)[~gold_oos].mean()) if (~gold_oos).any() else None,
                "oos_recall": float(rejected[gold_oos].mean()) if gold_oos.any() else None,
            }
        )
    return curve
