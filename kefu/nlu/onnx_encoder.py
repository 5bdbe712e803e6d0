"""The encoder on ONNX Runtime: export a trained model's encoder to ONNX (optionally int8), run it in place
of the PyTorch one.

Only the encoder (token ids -> contextual vectors) moves to ONNX: it is where nearly all the time goes.
The heads, the n-gram table and the entity decoder stay in PyTorch, so everything downstream of
`IntentNetwork.forward` is the same code for both runtimes.

int8 is ONNX Runtime's dynamic quantisation with one scale per output channel: per-tensor scales cost
e5-small's sentence vectors about 6 points of cosine similarity to fp32 (see docs/compression.md);
per-channel keeps them above 0.99. The embedding table (96M of e5-small's 117M weights) is quantised too,
which is what makes the file four times smaller.
"""

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


def export_encoder(encoder: nn.Module, path: Path, vocab_size: int, int8: bool) -> None:
    """Write `encoder` (a `TransformerEncoder` or `PretrainedBackbone`) to `path` as ONNX."""
    from onnxruntime.quantization import QuantType, quantize_dynamic

    # A padded example: tracing follows the masked attention path, which is right for every input
    # (the unmasked one, taken when nothing is padded, is only a shortcut).
    ids = torch.randint(5, max(6, vocab_size), (2, 8))
    keep = torch.ones(2, 8, dtype=torch.long)
    keep[1, 5:] = 0
    with tempfile.TemporaryDirectory(dir=path.parent) as tmp:
        fp32 = Path(tmp) / "fp32.onnx" if int8 else path
        with torch.no_grad(), warnings.catch_warnings():
            # the tracer warns about every data-dependent branch it freezes; the padded example covers them
            warnings.simplefilter("ignore")
            torch.onnx.export(
                _Export(encoder).eval(),  # a new module is in training mode: export would leave dropout on
                (ids, keep),
                str(fp32),
                input_names=["ids", "keep"],
                output_names=["hidden"],
                dynamic_axes={"ids": {0: "batch", 1: "tokens"}, "keep": {0: "batch", 1: "tokens"}},
                opset_version=OPSET,
                dynamo=False,
            )
        if int8:
            quantize_dynamic(
                str(fp32),
                str(path),
                per_channel=True,
                weight_type=QuantType.QInt8,
                op_types_to_quantize=["MatMul", "Gather"],
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
