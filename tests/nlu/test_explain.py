"""Per-word explanations: shapes, spans, faithfulness on a model where one word decides, IG completeness."""

import pytest
import torch

from kefu.data import Example
from kefu.errors import ConfigError
from kefu.nlu.explain import explain, word_spans
from kefu.training import TrainConfig, fit

# Every sentence exists once per label, differing only in the keyword: that word alone decides the intent.
KEYWORDS = {"refund": "refund", "track": "tracking", "cancel": "cancellation"}
TEMPLATES = [
    "please help me with my {} today",
    "{} for my order now",
    "i need a {} asap",
    "can you do the {} for me",
    "hello there, {} please",
    "what about {} of the parcel",
]


EXAMPLES = [Example(t.format(word), label) for label, word in KEYWORDS.items() for t in TEMPLATES]


@pytest.fixture(scope="module", params=[True, False], ids=["ngrams", "tokens-only"])
def keyword_model(request):
    """A tiny model trained on EXAMPLES, with and without the n-gram branch."""
    cfg = TrainConfig(
        dim=32, layers=1, heads=2, epochs=40, patience=40, lr=3e-3, val_fraction=0.0, vocab_size=200,
        augment=0.0, ngrams=request.param,
    )
    return fit(EXAMPLES, cfg, progress=False)


def test_words_map_back_to_the_text_and_special_tokens_are_left_out(tiny_model):
    text = "  我要退款, refund MY order!"
    e = tiny_model.explain(text)
    assert [w.token for w in e.tokens] == ["我", "要", "退", "款", ",", "refund", "MY", "order", "!"]
    assert all(text[w.start : w.end] == w.token for w in e.tokens)
    assert e.method == "ig" and e.intent == "refund" and e.intent in tiny_model.labels
    data = e.to_dict()
    assert set(data) == {"text", "intent", "method", "probability", "tokens", "baseline", "delta"}
    assert set(data["tokens"][0]) == {"token", "start", "end", "score"}
    assert tiny_model.explain("").tokens == []


def test_word_spans_merge_word_pieces_into_words():
    assert word_spans("refunded 2 orders?") == [(0, 8), (9, 10), (11, 17), (17, 18)]


@pytest.mark.parametrize("method", ["ig", "occlusion"])
def test_the_word_that_decides_the_intent_gets_the_top_score(keyword_model, method):
    for example in EXAMPLES:
        e = keyword_model.explain(example.text, method=method)
        assert e.intent == example.label
        assert e.top(1)[0].token == KEYWORDS[example.label], (method, e.tokens)


def test_integrated_gradients_add_up_to_the_change_from_the_baseline(keyword_model):
    text = "i would like a refund for this order"
    e = keyword_model.explain(text)
    target = keyword_model.labels.index(e.intent)
    assert e.probability == pytest.approx(keyword_model.predict_proba([text])[0, target].item(), abs=1e-5)
    # the baseline is "no words": every word piece [PAD], the n-gram branch silent
    net, inputs = keyword_model.network, keyword_model.inputs
    ids, offsets = inputs.encode([text])
    batch = inputs.batch([text], ids)
    batch.ids = batch.ids.masked_fill(torch.tensor([[end > start for start, end in offsets[0]]]), inputs.pad_id)
    batch.ngram_w = torch.zeros_like(batch.ngram_w)
    with torch.no_grad():
        assert e.baseline == pytest.approx(net(batch).intent_probs()[0, target].item(), abs=1e-5)
    total = sum(w.score for w in e.tokens)
    assert total == pytest.approx(e.probability - e.baseline, abs=0.02)
    assert total - (e.probability - e.baseline) == pytest.approx(e.delta, abs=1e-4)  # no score is lost
    finer = keyword_model.explain(text, n_steps=128)
    assert abs(finer.delta) <= abs(e.delta) + 1e-4


def test_a_requested_intent_other_than_the_top_one(keyword_model):
    text = "i need a refund asap"
    others = [keyword_model.explain(text, intent=label) for label in KEYWORDS if label != "refund"]
    for e in others:
        index = keyword_model.labels.index(e.intent)
        assert e.probability == pytest.approx(keyword_model.predict_proba([text])[0, index].item(), abs=1e-5)
        assert sum(w.score for w in e.tokens) == pytest.approx(e.probability - e.baseline, abs=0.02)
    # Against the other intent that "no words" favours most, the refund keyword is the strongest evidence.
    e = max(others, key=lambda e: e.baseline)
    assert e.probability < e.baseline and min(e.tokens, key=lambda w: w.score).token == "refund"


def test_occlusion_needs_only_predictions(keyword_model):
    """An ONNX-backed model has no gradients, only probabilities: occlusion is enough for it."""

    class OnlyPredictions:
        labels = keyword_model.labels

        @staticmethod
        def predict_proba(texts):
            return keyword_model.predict_proba(texts)

    text = "tracking of my order please"
    with torch.inference_mode():  # no autograd anywhere
        e = explain(OnlyPredictions(), text, method="occlusion")
    assert e.method == "occlusion" and e.intent == "track" and e.baseline is None and e.delta is None
    probs = keyword_model.predict_proba([text, " of my order please"])[:, keyword_model.labels.index("track")]
    assert e.tokens[0].score == pytest.approx((probs[0] - probs[1]).item(), abs=1e-5)


def test_unknown_intent_or_method_is_a_clear_error(tiny_model):
    with pytest.raises(ConfigError, match="unknown intent 'nonsense'"):
        tiny_model.explain("hello", intent="nonsense")
    with pytest.raises(ConfigError, match="unknown explanation method 'shap'"):
        tiny_model.explain("hello", method="shap")
