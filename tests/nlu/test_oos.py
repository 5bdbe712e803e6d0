"""Out-of-scope detection: threshold choice on validation only, the scores, and the model's decisions."""

import numpy as np
import pytest

from kefu.data import Example
from kefu.nlu.evaluate import evaluate_model
from kefu.nlu.model import Model
from kefu.nlu.oos import OOS_LABEL, canonical_label, choose_threshold, decide, oos_metrics
from kefu.training import fit

LABELS = ["greet", "refund"]


def test_every_spelling_of_out_of_scope_is_one_label():
    assert {canonical_label(x) for x in ("oos", "OOS", "out_of_scope", "out-of-scope")} == {OOS_LABEL}
    assert canonical_label("refund") == "refund"


def test_without_oos_examples_the_threshold_rejects_the_reject_rate_of_in_scope():
    scores = np.linspace(0.5, 1.0, 101)
    probs = np.stack([scores, 1 - scores], axis=1)
    t = choose_threshold(probs, LABELS, ["greet"] * 101, reject_rate=0.1)
    assert t.method == "reject-rate"
    rejected = np.mean(decide(probs, LABELS, t.value))
    assert rejected == pytest.approx(0.1, abs=0.02)


def test_with_oos_examples_the_threshold_separates_them():
    # In-scope messages are confident (0.8-0.95), out-of-scope ones are not (0.5-0.6).
    conf = [0.8, 0.85, 0.9, 0.95, 0.5, 0.55, 0.6]
    probs = np.array([[c, 1 - c] for c in conf])
    gold = ["greet"] * 4 + ["oos"] * 3
    t = choose_threshold(probs, LABELS, gold)
    assert t.method == "validation-oos"
    assert 0.6 < t.value <= 0.8
    assert decide(probs, LABELS, t.value) == [False] * 4 + [True] * 3


def test_an_oos_class_wins_whatever_the_threshold():
    labels = ["greet", OOS_LABEL]
    assert decide(np.array([[0.3, 0.7], [0.9, 0.1]]), labels, None) == [True, False]


def test_oos_metrics_by_hand():
    gold = ["greet", "refund", "oos", "oos"]
    pred = ["greet", OOS_LABEL, OOS_LABEL, "greet"]
    m = oos_metrics([canonical_label(g) for g in gold], pred, [0.1, 0.7, 0.8, 0.3])
    assert m["in_scope_accuracy"] == 0.5  # the rejected refund counts as wrong
    assert m["oos_recall"] == 0.5
    assert m["oos_precision"] == 0.5
    # OOS scores 0.8 and 0.3 against in-scope 0.1 and 0.7: 3 of 4 pairs ordered right.
    assert m["oos_auroc"] == pytest.approx(0.75)


@pytest.fixture(scope="module")
def oos_data(tiny_examples):
    noise = ["what is the weather", "tell me a joke", "今天天气怎么样", "讲个笑话", "who won the game"]
    return tiny_examples + [Example(t, "oos") for t in noise]


def test_threshold_comes_from_validation_and_test_data_never_changes_it(oos_data, tiny_config):
    from dataclasses import replace

    val = [Example("hello hello", "greet"), Example("refund please", "refund"), Example("讲笑话", "oos")]
    model = fit(oos_data, replace(tiny_config, epochs=20), val_examples=val, progress=False)
    assert OOS_LABEL in model.labels and model.oos is not None
    expected = choose_threshold(model.predict_proba([e.text for e in val]).numpy(), model.labels,
                                [canonical_label(e.label) for e in val])
    assert model.oos.value == expected.value and model.oos.n_val == len(val)
    before = model.oos
    test_a = [Example("hi there", "greet"), Example("what is the weather", "oos")]
    test_b = [Example("我要退款", "refund")]
    report = evaluate_model(model, test_a).to_dict()
    evaluate_model(model, test_b)
    assert model.oos == before
    for key in ("in_scope_accuracy", "oos_recall", "oos_precision", "oos_auroc"):
        assert key in report


def test_model_trained_with_oos_examples_rejects_them_and_keeps_the_threshold_on_reload(
    oos_data, tiny_config, tmp_path
):
    model = fit(oos_data, tiny_config, progress=False)
    pred = model.predict(["tell me a joke", "I want a refund"])
    assert pred[0].intent == OOS_LABEL and pred[0].oos
    assert pred[1].intent == "refund" and not pred[1].oos
    model.oos = choose_threshold(model.predict_proba(["hello"]).numpy(), model.labels, ["greet"])
    loaded = Model.load(model.save(tmp_path / "m"))
    assert loaded.oos == model.oos
    assert [p.to_dict() for p in loaded.predict(["hello", "讲个笑话"])] == [
        p.to_dict() for p in model.predict(["hello", "讲个笑话"])
    ]
