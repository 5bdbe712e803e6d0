"""Cut attention heads and feed-forward neurons out of an encoder's layers: smaller matrices, not masks.

Both encoders (the pretrained BERT backbone and the from-scratch one) have the same four places to cut
in each layer:

    attention input (query, key, value; the scratch encoder's fused qkv)   rows of the kept heads
    attention output projection                                            columns of the kept heads
    feed-forward first Linear                                              rows of the kept neurons
    feed-forward second Linear                                             columns of the kept neurons

A head or a neuron only reaches the residual stream through its columns of an output projection, whose
bias is kept whole: a cut layer computes exactly what the full one computes with those units' outputs
set to zero, and a cut that keeps everything changes nothing.
"""

from collections.abc import Sequence
from typing import Protocol

import torch
from torch import nn

from kefu.nlu.backbone import PretrainedBackbone
from kefu.nlu.encoder import Block, TransformerEncoder


def _cut(old: nn.Linear, keep: torch.Tensor, dim: int) -> nn.Linear:
    """`old` with only the output rows (dim 0) or input columns (dim 1) in `keep`."""
    weight = old.weight.detach().index_select(dim, keep).clone()
    new = nn.Linear(
        weight.shape[1], weight.shape[0], bias=old.bias is not None, device="meta"
    )  # no init to waste
    new.weight = nn.Parameter(weight, requires_grad=old.weight.requires_grad)
    if old.bias is not None:
        bias = old.bias.detach()
        new.bias = nn.Parameter(
            bias[keep].clone() if dim == 0 else bias.clone(), requires_grad=old.bias.requires_grad
        )
    return new


def _head_rows(heads: Sequence[int], head_dim: int, offset: int = 0) -> torch.Tensor:
    """Indices of the rows (or columns) that belong to `heads` in a concatenation of heads."""
    return torch.tensor([offset + h * head_dim + j for h in heads for j in range(head_dim)], dtype=torch.long)


class Layer(Protocol):
    """One encoder layer as pruning sees it; `attn_out` and `ff_out` are the Linears whose inputs are the
    heads' concatenated outputs and the feed-forward activations."""

    heads: int
    head_dim: int
    width: int  # feed-forward neurons
    attn_out: nn.Linear
    ff_out: nn.Linear

    def keep(self, heads: Sequence[int], neurons: Sequence[int]) -> None:
        """Cut the layer down to `heads` and `neurons` (indices into the current ones, ascending)."""


class _BertLayer:
    def __init__(self, layer: nn.Module):
        self.layer = layer

    @property
    def heads(self) -> int:
        return self.layer.attention.self.num_attention_heads

    @property
    def head_dim(self) -> int:
        return self.layer.attention.self.attention_head_size

    @property
    def width(self) -> int:
        return self.layer.intermediate.dense.out_features

    @property
    def attn_out(self) -> nn.Linear:
        return self.layer.attention.output.dense

    @property
    def ff_out(self) -> nn.Linear:
        return self.layer.output.dense

    def keep(self, heads: Sequence[int], neurons: Sequence[int]) -> None:
        att, rows = self.layer.attention.self, _head_rows(heads, self.head_dim)
        att.query, att.key, att.value = (_cut(m, rows, 0) for m in (att.query, att.key, att.value))
        self.layer.attention.output.dense = _cut(self.attn_out, rows, 1)
        # transformers' BertSelfAttention reshapes by head size (-1 heads): these two are bookkeeping only
        att.num_attention_heads, att.all_head_size = len(heads), len(rows)
        idx = torch.tensor(list(neurons), dtype=torch.long)
        self.layer.intermediate.dense = _cut(self.layer.intermediate.dense, idx, 0)
        self.layer.output.dense = _cut(self.ff_out, idx, 1)


class _ScratchBlock:
    def __init__(self, block: Block):
        self.block = block

    @property
    def heads(self) -> int:
        return self.block.attn.heads

    @property
    def head_dim(self) -> int:
        return self.block.attn.head_dim

    @property
    def width(self) -> int:
        return self.block.ff[0].out_features

    @property
    def attn_out(self) -> nn.Linear:
        return self.block.attn.out

    @property
    def ff_out(self) -> nn.Linear:
        return self.block.ff[2]

    def keep(self, heads: Sequence[int], neurons: Sequence[int]) -> None:
        attn, size = self.block.attn, self.heads * self.head_dim
        # the fused qkv's rows are [all query heads | all key heads | all value heads]
        qkv_rows = torch.cat([_head_rows(heads, self.head_dim, part * size) for part in range(3)])
        attn.qkv = _cut(attn.qkv, qkv_rows, 0)
        attn.out = _cut(attn.out, _head_rows(heads, self.head_dim), 1)
        attn.heads = len(heads)
        idx = torch.tensor(list(neurons), dtype=torch.long)
        self.block.ff[0] = _cut(self.block.ff[0], idx, 0)
        self.block.ff[2] = _cut(self.block.ff[2], idx, 1)


def layers(encoder: nn.Module) -> list[Layer]:
    """The prunable layers of a `PretrainedBackbone` or a `TransformerEncoder`, bottom first."""
    if isinstance(encoder, PretrainedBackbone):
        return [_BertLayer(layer) for layer in encoder.bert.encoder.layer]
    if isinstance(encoder, TransformerEncoder):
        return [_ScratchBlock(block) for block in encoder.blocks]
    raise TypeError(f"cannot prune a {type(encoder).__name__}")


def layer_params(encoder: nn.Module) -> int:
    """Parameters of the encoder's layers (what pruning shrinks; embeddings are left out)."""
    mods = encoder.bert.encoder.layer if isinstance(encoder, PretrainedBackbone) else encoder.blocks
    return sum(p.numel() for p in mods.parameters())


def shapes(encoder: nn.Module) -> dict:
    """Each layer's attention heads and feed-forward width: what `NetworkConfig.pruned` records."""
    found = layers(encoder)
    return {"heads": [layer.heads for layer in found], "ffn": [layer.width for layer in found]}


def resize(encoder: nn.Module, sizes: dict) -> None:
    """Give every layer of a freshly built encoder the shapes `sizes` (from `shapes`), so a pruned model's
    weights load into it; the values left in the cut matrices do not matter, the state dict replaces them."""
    found = layers(encoder)
    heads, ffn = list(sizes.get("heads", [])), list(sizes.get("ffn", []))
    if len(heads) != len(found) or len(ffn) != len(found):
        raise ValueError(f"pruned shapes for {len(heads)}/{len(ffn)} layers, the encoder has {len(found)}")
    for layer, h, f in zip(found, heads, ffn, strict=True):
        if not (1 <= h <= layer.heads and 1 <= f <= layer.width):
            raise ValueError(
                f"pruned shapes {h} heads, {f} neurons do not fit a layer of {layer.heads}, {layer.width}"
            )
        layer.keep(range(h), range(f))
