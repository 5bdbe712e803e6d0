"""The encoder on ONNX Runtime: export a trained model's encoder to ONNX (optionally int8), run it in place
of the PyTorch one.

Only the encoder (token ids -> contextual vectors) moves to ONNX: it is where nearly all the time goes.
The heads, the n-gram table and the entity decoder stay in PyTorch, so everything downstream of
`IntentNetwork.forward` is the same code for both runtimes.

int8 is ONNX Runtime's dynamic quantisation with one scale per output channel: per-tensor scales cost
e5-small's sentence vectors about 6 points of cosine similarity to fp32 (see docs/compression.md);
per-channel keeps them above 0.99. The embedding table (96M of e5-small's 117M weights) is quantised too,
which is what makes the file four times smaller.

A pretrained (BERT) encoder is exported in the shape ONNX Runtime's transformer optimizer recognises, so
that each layer's attention becomes one fused `Attention` op (then `QAttention` in int8), its residual
adds + LayerNorms `SkipLayerNormalization` and its GELUs `BiasGelu`: see `_BertExport` for why it cannot
be exported through transformers' own modules.
"""

import logging
import math
import tempfile
import warnings
from pathlib import Path

import numpy as np
import torch
from torch import nn

from kefu.errors import ArtifactError, KefuError

ONNX_FILE = "encoder.onnx"
OPSET = 17


class _Export(nn.Module):
    """(ids, keep) -> hidden states: the encoder's forward without its optional arguments."""

    def __init__(self, encoder: nn.Module):
        super().__init__()
        self.encoder = encoder

    def forward(self, ids: torch.Tensor, keep: torch.Tensor) -> torch.Tensor:
        return self.encoder(ids, keep.bool())


class _BertExport(nn.Module):
    """(ids, keep) -> hidden states of a `PretrainedBackbone`'s BERT, with the same weights, written the way
    ONNX Runtime's attention fusion (`onnxruntime/transformers/fusion_attention.py`) expects it.

    transformers' own attention does not fuse: its SDPA path exports as q and k each scaled by a constant
    and an attention output reshaped once more before its transpose, under a boolean `Where` mask, and its
    eager path computes `scores * scaling + mask`, where the fusion looks for the mask as the first `Mul`
    feeding the `Add` and finds the scaling instead. Here the attention is the classic BERT one: q/k/v
    projections, reshape to (b, t, heads, head size) with constant heads, transpose, q @ k^T divided by
    sqrt(head size), plus the additive mask (1 - keep) * -10000, softmax, @ v, transpose, reshape.
    (-10000 gives the padded positions weights of exactly 0 in float32, as transformers' own mask does.)
    Heads are read per layer: a pruned model's layers may have fewer than its config says.
    """

    def __init__(self, bert: nn.Module):
        super().__init__()
        self.bert = bert

    def forward(self, ids: torch.Tensor, keep: torch.Tensor) -> torch.Tensor:
        h = self.bert.embeddings(input_ids=ids)
        mask = (1.0 - keep[:, None, None, :].to(h.dtype)) * -10000.0
        for layer in self.bert.encoder.layer:
            h = _bert_layer(layer, h, mask)
        return h


def _bert_layer(layer: nn.Module, h: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """One transformers `BertLayer` (post-LN, no cross-attention) in eval mode, in the classic pattern."""
    att = layer.attention.self
    heads, size = att.num_attention_heads, att.attention_head_size
    b, t = h.shape[0], h.shape[1]
    q = att.query(h).view(b, t, heads, size).permute(0, 2, 1, 3)
    k = att.key(h).view(b, t, heads, size).permute(0, 2, 3, 1)  # already transposed for q @ k
    v = att.value(h).view(b, t, heads, size).permute(0, 2, 1, 3)
    probs = (torch.matmul(q, k) / math.sqrt(size) + mask).softmax(-1)
    context = torch.matmul(probs, v).permute(0, 2, 1, 3).reshape(b, t, heads * size)
    out = layer.attention.output
    h = out.LayerNorm(out.dense(context) + h)
    return layer.output.LayerNorm(layer.output.dense(layer.intermediate(h)) + h)


def _fusable_bert(encoder: nn.Module) -> nn.Module | None:
    """The BERT inside a `PretrainedBackbone` when `_BertExport` reproduces it exactly, else None."""
    bert = getattr(encoder, "bert", None)
    config = getattr(bert, "config", None)
    if config is None or getattr(config, "model_type", None) != "bert":
        return None
    if config.is_decoder or getattr(config, "position_embedding_type", "absolute") != "absolute":
        return None
    return bert


def _fuse(src: Path, dst: Path, config) -> None:
    """ONNX Runtime's BERT optimizer (offline, pure Python on the graph): Attention, SkipLayerNormalization,
    BiasGelu and EmbedLayerNormalization fusions. The attention keeps the raw 0/1 mask (ORT's default for
    BERT reduces it to a length per row, which is right only for right-padded batches)."""
    from onnxruntime.transformers.fusion_options import AttentionMaskFormat, FusionOptions
    from onnxruntime.transformers.optimizer import optimize_model

    options = FusionOptions("bert")
    options.attention_mask_format = AttentionMaskFormat.AttentionMask
    # Its warnings are noise here (a pruned layer's q/k/v narrower than the hidden size, a tiny vocabulary);
    # its modules log under their bare names, so no one logger covers them. The tests check what fused.
    previous = logging.root.manager.disable
    logging.disable(logging.WARNING)
    try:
        model = optimize_model(
            str(src),
            model_type="bert",
            num_heads=config.num_attention_heads,  # a pruned layer's own count, read from its graph, wins
            hidden_size=config.hidden_size,
            optimization_options=options,
            opt_level=0,  # graph fusions only; the session applies ONNX Runtime's own optimisations on load
        )
    finally:
        logging.disable(previous)
    model.save_model_to_file(str(dst))


def export_encoder(encoder: nn.Module, path: Path, vocab_size: int, int8: bool) -> None:
    """Write `encoder` (a `TransformerEncoder` or `PretrainedBackbone`) to `path` as ONNX."""
    from onnx import TensorProto
    from onnxruntime.quantization import QuantType, quantize_dynamic

    # A padded example: tracing follows the masked attention path, which is right for every input
    # (the unmasked one, taken when nothing is padded, is only a shortcut).
    ids = torch.randint(5, max(6, vocab_size), (2, 8))
    keep = torch.ones(2, 8, dtype=torch.long)
    keep[1, 5:] = 0
    bert = _fusable_bert(encoder)
    module = _Export(encoder) if bert is None else _BertExport(bert)
    with tempfile.TemporaryDirectory(dir=path.parent) as tmp:
        fp32 = path if bert is None and not int8 else Path(tmp) / "fp32.onnx"
        with torch.no_grad(), warnings.catch_warnings():
            # the tracer warns about every data-dependent branch it freezes; the padded example covers them
            warnings.simplefilter("ignore")
            torch.onnx.export(
                module.eval(),  # a new module is in training mode: export would leave dropout on
                (ids, keep),
                str(fp32),
                input_names=["ids", "keep"],
                output_names=["hidden"],
                dynamic_axes={"ids": {0: "batch", 1: "tokens"}, "keep": {0: "batch", 1: "tokens"}},
                opset_version=OPSET,
                dynamo=False,
            )
        if bert is not None:
            fused = path if not int8 else Path(tmp) / "fused.onnx"
            _fuse(fp32, fused, bert.config)
            fp32 = fused
        if int8:
            quantize_dynamic(
                str(fp32),
                str(path),
                per_channel=True,
                weight_type=QuantType.QInt8,
                # a fused Attention becomes QAttention, an EmbedLayerNormalization QEmbedLayerNormalization
                op_types_to_quantize=["MatMul", "Gather", "Attention", "EmbedLayerNormalization"],
                # ONNX's shape inference gives no types past the fused (com.microsoft) ops; all are float
                extra_options={"DefaultTensorType": TensorProto.FLOAT},
            )


class OnnxEncoder(nn.Module):
    """Stands in for the PyTorch encoder in `IntentNetwork`: same inputs, same (b, t, dim) output."""

    caches_lower = False

    def __init__(self, path: Path, threads: int | None = None):
        super().__init__()
        import onnxruntime as ort

        self.source = Path(path)  # saving the model copies this file

        options = ort.SessionOptions()
        options.intra_op_num_threads = threads or torch.get_num_threads()
        options.inter_op_num_threads = 1
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        try:
            # From the path (from bytes costs a second copy, ~300 MB for e5-small). External weight files
            # named inside a model are refused by ONNX Runtime (>= 1.24) when they lead out of its folder.
            self.session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        except Exception as e:  # noqa: BLE001  (onnxruntime raises its own untyped errors for a bad file)
            raise ArtifactError(f"{path}: not a readable ONNX encoder ({str(e).splitlines()[0]})") from None

    def frozen_keys(self) -> list[str]:
        return []

    def embed(self, ids: torch.Tensor) -> torch.Tensor:
        raise KefuError("this model's encoder runs on ONNX Runtime, which gives no gradients: explain it with "
                        "method 'occlusion'")

    def forward(self, ids: torch.Tensor, keep: torch.Tensor, tokens: torch.Tensor | None = None) -> torch.Tensor:
        if tokens is not None:
            self.embed(ids)
        feeds = {"ids": ids.numpy(), "keep": keep.numpy().astype(np.int64)}
        return torch.from_numpy(self.session.run(None, feeds)[0])
