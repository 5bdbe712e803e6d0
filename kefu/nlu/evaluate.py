"""Evaluate a `Model` on labelled examples."""

from kefu.data import Example
from kefu.evaluation import EvalReport, evaluate_predictions
from kefu.nlu.model import Model


def evaluate_model(model: Model, examples: list[Example]) -> EvalReport:
    texts = [e.text for e in examples]
    predictions = model.predict(texts)
    return evaluate_predictions(
        texts,
        [e.label for e in examples],
        [p.intent for p in predictions],
        [p.confidence for p in predictions],
        labels=model.labels,
    )
