"""A model exported with `kefu export`: its encoder runs on ONNX Runtime and it predicts like the original."""

import json

import pytest
import torch
from safetensors import safe_open
from typer.testing import CliRunner

from kefu.cli import app
from kefu.errors import ArtifactError, KefuError
from kefu.nlu.model import Model
from kefu.nlu.onnx_encoder import OnnxEncoder

TEXTS = ["I want a refund", "我的订单到哪了", "hello", "退款什么时候到账", "track my package please", "good morning"]


@pytest.fixture(scope="module")
def exported(tiny_model, tmp_path_factory):
    root = tmp_path_factory.mktemp("onnx")
    return {int8: tiny_model.export(root / f"int8-{int8}", int8=int8) for int8 in (False, True)}


def test_fp32_export_predicts_what_pytorch_predicts(tiny_model, exported):
    onnx = Model.load(exported[False])
    assert isinstance(onnx.network.encoder, OnnxEncoder) and onnx.onnx == {"int8": False}
    assert torch.allclose(onnx.predict_proba(TEXTS), tiny_model.predict_proba(TEXTS), atol=1e-5)
    # padding inside a batch must be handled as PyTorch does: one long and one short text together
    pair = ["hi", "where is my order, I have been waiting for two weeks now"]
    assert torch.allclose(onnx.predict_proba(pair), tiny_model.predict_proba(pair), atol=1e-5)
    assert [p.intent for p in onnx.predict(TEXTS)] == [p.intent for p in tiny_model.predict(TEXTS)]


def test_int8_export_agrees_and_keeps_no_encoder_weights_in_safetensors(tiny_model, exported):
    int8 = Model.load(exported[True])
    assert (int8.predict_proba(TEXTS).argmax(-1) == tiny_model.predict_proba(TEXTS).argmax(-1)).all()
    assert (int8.predict_proba(TEXTS) - tiny_model.predict_proba(TEXTS)).abs().max() < 0.05
    with safe_open(str(exported[True] / "model.safetensors"), "pt") as f:
        keys = set(f.keys())
    assert keys and not any(k.startswith("encoder.") for k in keys)
    assert any(k.startswith("intent.") for k in keys)
    config = json.loads((exported[True] / "config.json").read_text())
    assert config["onnx"] == {"int8": True}


def test_an_onnx_model_saves_and_reloads_with_its_encoder(exported, tmp_path):
    model = Model.load(exported[True])
    copy = Model.load(model.save(tmp_path / "copy"))
    assert torch.equal(copy.predict_proba(TEXTS), model.predict_proba(TEXTS))
    with pytest.raises(KefuError, match="ONNX already"):
        model.export(tmp_path / "again")


def test_explanations_of_an_onnx_model_use_occlusion(exported):
    model = Model.load(exported[False])
    explanation = model.explain("I want a refund")
    assert explanation.method == "occlusion" and [w.token for w in explanation.tokens][:2] == ["I", "want"]
    with pytest.raises(KefuError, match="occlusion"):
        model.explain("I want a refund", method="ig")


def test_missing_or_corrupt_onnx_file_is_a_clear_error(exported, tmp_path):
    import shutil

    broken = tmp_path / "broken"
    shutil.copytree(exported[True], broken)
    (broken / "encoder.onnx").write_bytes(b"not a model")
    with pytest.raises(ArtifactError, match="encoder.onnx: not a readable ONNX encoder"):
        Model.load(broken)
    (broken / "encoder.onnx").unlink()
    with pytest.raises(ArtifactError, match="missing encoder.onnx"):
        Model.load(broken)


def test_cli_export_with_check_then_predict(saved_model, tiny_examples, tmp_path):
    runner = CliRunner()
    data = tmp_path / "d.jsonl"
    data.write_text("\n".join(json.dumps({"text": e.text, "intent": e.label}, ensure_ascii=False) for e in tiny_examples))
    out = tmp_path / "int8"
    result = runner.invoke(app, ["export", str(saved_model), "--out", str(out), "--int8", "--check", str(data)])
    assert result.exit_code == 0, result.output
    assert "top-1 agreement" in result.output and "on 15 texts: 100.00%" in result.output
    result = runner.invoke(app, ["predict", str(out), "--json"], input="我要退款\nhello\n")
    assert [json.loads(line)["intent"] for line in result.stdout.strip().splitlines()] == ["refund", "greet"]


def _tiny_bert(pruned: bool):
    """A random two-layer BERT in kefu's `PretrainedBackbone`: the fused export's shape without a download."""
    from transformers import BertConfig, BertModel

    from kefu.nlu.backbone import PretrainedBackbone
    from kefu.nlu.slicing import layers

    torch.manual_seed(0)
    config = BertConfig(
        hidden_size=32, num_attention_heads=4, num_hidden_layers=2, intermediate_size=64, vocab_size=100
    )
    backbone = PretrainedBackbone(BertModel(config), train_layers=1).eval()
    if pruned:  # a pruned layer has fewer heads than the config says: the export must follow the layer
        layers(backbone)[0].keep([0, 2], range(40))
    return backbone


@pytest.mark.parametrize("pruned", [False, True])
def test_a_pretrained_encoder_exports_with_fused_attention(pruned, tmp_path):
    import collections

    import onnx

    from kefu.nlu.onnx_encoder import export_encoder

    backbone = _tiny_bert(pruned)
    ids = torch.randint(5, 100, (3, 11))  # neither the batch nor the length of the traced example
    keep = torch.ones(3, 11, dtype=torch.bool)
    keep[1, 4:] = False
    keep[2, 7:] = False
    with torch.no_grad():
        expected = backbone(ids, keep)
    for int8 in (False, True):
        path = tmp_path / f"int8-{int8}.onnx"
        export_encoder(backbone, path, 100, int8=int8)
        ops = collections.Counter(node.op_type for node in onnx.load(str(path)).graph.node)
        assert ops["QAttention" if int8 else "Attention"] == 2, ops
        assert ops["SkipLayerNormalization"] == 4 and ops["BiasGelu"] == 2, ops
        assert not ops["Softmax"] and not ops["LayerNormalization"], ops
        encoder = OnnxEncoder(path, threads=1)
        out = encoder(ids, keep.long())
        if int8:
            assert torch.nn.functional.cosine_similarity(out[keep], expected[keep], dim=-1).mean() > 0.98
        else:
            assert (out - expected)[keep].abs().max() < 1e-4
            # padding does not reach the real tokens: the padded row alone gives the same vectors
            alone = encoder(ids[1:2, :4], keep[1:2, :4].long())
            assert torch.allclose(alone[0], out[1, :4], atol=1e-5)
