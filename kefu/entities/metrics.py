"""Entity-level precision, recall and F1: a prediction counts only with exactly the gold span and type."""

from collections import Counter
from collections.abc import Sequence

from kefu.entities.spans import Entity


def _prf(true_positives: int, predicted: int, gold: int) -> tuple[float, float, float]:
    # conlleval's convention: a ratio with nothing to divide by is 0, not an error or NaN
    precision = true_positives / predicted if predicted else 0.0
    recall = true_positives / gold if gold else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return precision, recall, f1


def entity_scores(gold: Sequence[Sequence[Entity]], pred: Sequence[Sequence[Entity]]) -> dict:
    """Micro-averaged and per-type scores over sentences (``gold[i]`` and ``pred[i]`` belong together).

    An entity is a ``(type, start, end)`` triple; ``value`` and ``source`` are ignored, so a model
    prediction can be scored against an annotation. Returns ``{"precision", "recall", "f1", "support",
    "per_type": {type: {"precision", "recall", "f1", "support"}}}`` where support counts gold entities;
    types that only occur in predictions are listed with support 0.
    """
    if len(gold) != len(pred):
        raise ValueError(f"gold has {len(gold)} sentences but pred has {len(pred)}")
    true_positives: Counter[str] = Counter()
    gold_counts: Counter[str] = Counter()
    pred_counts: Counter[str] = Counter()
    for gold_entities, pred_entities in zip(gold, pred):
        # multisets, so a duplicated prediction cannot match one gold entity twice
        gold_spans = Counter((entity.type, entity.start, entity.end) for entity in gold_entities)
        pred_spans = Counter((entity.type, entity.start, entity.end) for entity in pred_entities)
        for (entity_type, _, _), count in (gold_spans & pred_spans).items():
            true_positives[entity_type] += count
        for (entity_type, _, _), count in gold_spans.items():
            gold_counts[entity_type] += count
        for (entity_type, _, _), count in pred_spans.items():
            pred_counts[entity_type] += count
    per_type = {}
    for entity_type in sorted(gold_counts.keys() | pred_counts.keys()):
        precision, recall, f1 = _prf(true_positives[entity_type], pred_counts[entity_type], gold_counts[entity_type])
        per_type[entity_type] = {"precision": precision, "recall": recall, "f1": f1,
                                 "support": gold_counts[entity_type]}
    total_gold = sum(gold_counts.values())
    precision, recall, f1 = _prf(sum(true_positives.values()), sum(pred_counts.values()), total_gold)
    return {"precision": precision, "recall": recall, "f1": f1, "support": total_gold, "per_type": per_type}
