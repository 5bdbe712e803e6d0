"""The sentiment head: trained from its own labelled examples beside the intents, predicted in the same pass."""

import pytest
import torch

from kefu.data import Example
from kefu.nlu.model import Model
from kefu.training import fit
from kefu.training.trainer import head_loss

MOODS = {
    "negative": ["this is terrible", "worst service ever", "I am so angry", "太差了", "气死我了", "什么破服务"],
    "neutral": ["where is my parcel", "how do I pay", "what time do you open", "怎么付款", "几点开门", "运费多少"],
    "positive": ["great service thanks", "I love it", "wonderful, thank you", "太好了", "非常满意", "谢谢你们"],
}


def _sentiment_examples() -> list[Example]:
    return [Example(text, label) for label, texts in MOODS.items() for text in texts]


@pytest.fixture(scope="module")
def mood_model(tiny_examples, tiny_config):
    return fit(tiny_examples, tiny_config, progress=False, sentiment=_sentiment_examples())


def test_sentiment_head_learns_its_labels_beside_the_intents(mood_model, tiny_examples):
    assert mood_model.sentiments == ["negative", "neutral", "positive"]
    assert mood_model.labels == ["greet", "order_status", "refund"]  # sentiment labels are not intents
    texts = [e.text for e in _sentiment_examples()]
    predicted = [p.sentiment["label"] for p in mood_model.predict(texts)]
    right = sum(p == e.label for p, e in zip(predicted, _sentiment_examples(), strict=True))
    assert right >= 0.9 * len(texts)
    intents = [p.intent for p in mood_model.predict([e.text for e in tiny_examples])]
    assert sum(p == e.label for p, e in zip(intents, tiny_examples, strict=True)) >= 0.9 * len(tiny_examples)


def test_sentiment_output_shape(mood_model):
    p = mood_model.predict("气死我了")[0]
    assert set(p.sentiment) == {"label", "score", "probabilities"}
    assert list(p.sentiment["probabilities"]) == ["negative", "neutral", "positive"]
    assert sum(p.sentiment["probabilities"].values()) == pytest.approx(1.0, abs=1e-4)
    assert p.sentiment["score"] == max(p.sentiment["probabilities"].values())
    assert p.to_dict()["sentiment"] == p.sentiment


def test_intent_entities_and_sentiment_come_from_one_encoder_pass(mood_model):
    calls = []
    hook = mood_model.network.encoder.register_forward_hook(lambda *_: calls.append(1))
    try:
        out = mood_model.outputs(["where is my order", "太差了", "hello"])
    finally:
        hook.remove()
    assert len(calls) == 1
    assert out.intent.shape == (3, 3) and out.sentiment.shape == (3, 3)


def test_model_without_sentiment_data_has_no_sentiment_head(tiny_model):
    assert tiny_model.sentiments == [] and tiny_model.network.sentiment is None
    assert tiny_model.predict("hello")[0].sentiment is None


def test_sentiment_head_survives_save_and_load(mood_model, tmp_path):
    loaded = Model.load(mood_model.save(tmp_path / "m"))
    texts = ["太差了", "great service thanks"]
    assert loaded.sentiments == mood_model.sentiments
    torch.testing.assert_close(loaded.outputs(texts).sentiment, mood_model.outputs(texts).sentiment)


def test_sentiment_validation_is_held_out_and_reported(tiny_examples, tiny_config):
    cfg = tiny_config.__class__(**(tiny_config.to_dict() | {"val_fraction": 0.3, "epochs": 3}))
    model = fit(tiny_examples, cfg, progress=False, sentiment=_sentiment_examples())
    assert model.metrics["n_sentiment_train"] + model.metrics["n_sentiment_val"] == len(_sentiment_examples())
    assert model.metrics["n_sentiment_val"] == 6  # 30% of each label's six examples, rounded
    assert all("val_sentiment_accuracy" in r for r in model.metrics["history"])


def test_a_batch_without_examples_of_a_head_adds_no_loss_but_keeps_the_graph():
    logits = torch.randn(2, 3, requires_grad=True)
    loss = head_loss(logits, torch.tensor([-100, -100]), 0.1)
    loss.backward()
    assert loss.item() == 0.0 and torch.count_nonzero(logits.grad) == 0
    mixed = head_loss(logits, torch.tensor([-100, 2]), 0.0)
    assert mixed.item() == pytest.approx(torch.nn.functional.cross_entropy(logits[1:], torch.tensor([2])).item())


def test_entity_and_sentiment_heads_train_together_with_finite_losses(tiny_config):
    from kefu.entities import parse_inline

    tagged = []
    for raw in ["track [A12345](order_id)", "where is [B99881](order_id)", "查订单[C55123](order_id)", "hello", "你好"]:
        text, ents = parse_inline(raw)
        tagged.append(Example(text, "greet" if "order_id" not in raw else "track", entities=tuple(ents)))
    # batches of one: some hold only sentiment examples, which have no entity tags at all
    cfg = tiny_config.__class__(**(tiny_config.to_dict() | {"batch_size": 1, "epochs": 2}))
    model = fit(tagged * 2, cfg, progress=False, sentiment=_sentiment_examples())
    assert all(torch.isfinite(torch.tensor(r["loss"])) for r in model.metrics["history"])
