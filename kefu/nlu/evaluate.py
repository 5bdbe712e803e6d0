"""Evaluate a `Model` on labelled examples."""

from sklearn.metrics import accuracy_score, f1_score

from kefu.data import Example
from kefu.entities import entity_scores
from kefu.errors import KefuError
from kefu.evaluation import EvalReport, evaluate_predictions
from kefu.nlu.model import Model
from kefu.nlu.oos import OOS_LABEL, canonical_label, is_oos, oos_metrics, threshold_curve


def evaluate_model(model: Model, examples: list[Example]) -> EvalReport:
    """The intent report; with out-of-scope gold labels or an OOS threshold, the out-of-scope scores too."""
    texts = [e.text for e in examples]
    gold = [canonical_label(e.label) for e in examples]
    predictions = model.predict(texts)
    pred = [p.intent for p in predictions]
    report = evaluate_predictions(
        texts, gold, pred, [p.confidence for p in predictions], labels=model.labels
    )
    if model.oos is not None or any(is_oos(g) for g in gold):
        report.extra.update(oos_metrics(gold, pred, [p.oos_score for p in predictions]))
        report.extra["oos_threshold"] = model.oos.to_dict() if model.oos is not None else None
        # The sweep needs each message's best in-scope intent, whatever the threshold decided.
        best = [next(r["intent"] for r in p.ranking if r["intent"] != OOS_LABEL) for p in predictions]
        forced = [p.ranking[0]["intent"] == OOS_LABEL for p in predictions]
        report.extra["oos_curve"] = threshold_curve(gold, best, [1 - p.oos_score for p in predictions], forced)
    if any(e.entities for e in examples):
        # Only the entity head is scored: rule extractors find types the gold annotation never marks.
        learned = [[e for e in p.entities if e.source == "model"] for p in predictions]
        report.extra["entities"] = entity_scores([list(e.entities) for e in examples], learned)
    return report


def evaluate_sentiment(model: Model, examples: list[Example]) -> dict:
    """Accuracy and macro-F1 of the sentiment head on sentiment-labelled examples."""
    if not model.sentiments:
        raise KefuError("this model has no sentiment head: train it with sentiment data (kefu train --sentiment)")
    gold = [e.label for e in examples]
    unknown = sorted(set(gold) - set(model.sentiments))
    if unknown:
        raise KefuError(f"sentiment label {unknown[0]!r} is not one the model knows ({', '.join(model.sentiments)})")
    pred = [p.sentiment["label"] for p in model.predict([e.text for e in examples])]
    return {
        "accuracy": float(accuracy_score(gold, pred)),
        "macro_f1": float(f1_score(gold, pred, average="macro", labels=model.sentiments, zero_division=0)),
        "n": len(gold),
    }
