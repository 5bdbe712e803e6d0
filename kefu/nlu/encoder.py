"""A Transformer encoder small enough to read in one sitting (in the spirit of nanoGPT's model.py).

tokens -> token + position embeddings -> N x [pre-LN self-attention, pre-LN feed-forward] -> final LN.
Pre-LayerNorm keeps training stable without a long warm-up, which matters when a model is trained from
scratch in a couple of minutes on a CPU.
"""

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn


@dataclass
class EncoderConfig:
    vocab_size: int
    max_len: int = 64
    dim: int = 256
    layers: int = 2
    heads: int = 4
    ff_mult: int = 4
    dropout: float = 0.1
    init: str = "normal"  # "normal" (std 0.02, as BERT/GPT) or "xavier"


class SelfAttention(nn.Module):
    def __init__(self, cfg: EncoderConfig):
        super().__init__()
        # per module, not from cfg: pruning (kefu.compress) leaves each layer its own number of heads
        self.heads = cfg.heads
        self.head_dim = cfg.dim // cfg.heads
        self.qkv = nn.Linear(cfg.dim, 3 * cfg.dim)
        self.out = nn.Linear(cfg.dim, cfg.dim)
        self.dropout = cfg.dropout

    def forward(self, x: torch.Tensor, keep: torch.Tensor) -> torch.Tensor:
        b, t, _ = x.shape
        q, k, v = self.qkv(x).view(b, t, 3, self.heads, self.head_dim).permute(2, 0, 3, 1, 4)
        # keep: (b, t) bool, True for real tokens; broadcast so no query attends to padding. Without
        # padding (one message at a time) the mask is dropped: SDPA's unmasked path is faster.
        mask = None if bool(keep.all()) else keep[:, None, None, :]
        y = F.scaled_dot_product_attention(q, k, v, attn_mask=mask, dropout_p=self.dropout if self.training else 0.0)
        return self.out(y.transpose(1, 2).reshape(b, t, -1))


class Block(nn.Module):
    def __init__(self, cfg: EncoderConfig):
        super().__init__()
        self.ln1 = nn.LayerNorm(cfg.dim)
        self.attn = SelfAttention(cfg)
        self.ln2 = nn.LayerNorm(cfg.dim)
        self.ff = nn.Sequential(
            nn.Linear(cfg.dim, cfg.ff_mult * cfg.dim),
            nn.GELU(),
            nn.Linear(cfg.ff_mult * cfg.dim, cfg.dim),
        )
        self.drop = nn.Dropout(cfg.dropout)

    def forward(self, x: torch.Tensor, keep: torch.Tensor) -> torch.Tensor:
        x = x + self.drop(self.attn(self.ln1(x), keep))
        return x + self.drop(self.ff(self.ln2(x)))


class TransformerEncoder(nn.Module):
    """Maps token ids (b, t) and a padding mask to contextual vectors (b, t, dim)."""

    def __init__(self, cfg: EncoderConfig):
        super().__init__()
        if cfg.dim % cfg.heads:
            raise ValueError(f"dim {cfg.dim} is not divisible by heads {cfg.heads}")
        self.cfg = cfg
        self.tok = nn.Embedding(cfg.vocab_size, cfg.dim, padding_idx=0)
        self.pos = nn.Embedding(cfg.max_len, cfg.dim)
        self.drop = nn.Dropout(cfg.dropout)
        self.blocks = nn.ModuleList(Block(cfg) for _ in range(cfg.layers))
        self.ln = nn.LayerNorm(cfg.dim)
        self.apply(self._init)
        if cfg.init == "normal":
            # GPT-2's trick: shrink the residual projections by depth so the residual stream's variance
            # stays put as layers are added.
            for name, p in self.named_parameters():
                if name.endswith(("attn.out.weight", "ff.2.weight")):
                    nn.init.normal_(p, std=0.02 / math.sqrt(2 * cfg.layers))

    def _init(self, m: nn.Module) -> None:
        if isinstance(m, nn.Linear):
            if self.cfg.init == "xavier":
                nn.init.xavier_uniform_(m.weight)
            else:
                nn.init.normal_(m.weight, std=0.02)
            nn.init.zeros_(m.bias)
        elif isinstance(m, nn.Embedding):
            nn.init.normal_(m.weight, std=0.02)
            if m.padding_idx is not None:
                with torch.no_grad():
                    m.weight[m.padding_idx].zero_()

    def embed(self, ids: torch.Tensor) -> torch.Tensor:
        """The token embeddings of `ids` (b, t, dim): what `forward`'s `tokens` stands in for."""
        return self.tok(ids)

    def forward(self, ids: torch.Tensor, keep: torch.Tensor, tokens: torch.Tensor | None = None) -> torch.Tensor:
        """`tokens` replaces the embeddings of `ids` (explanations interpolate them; see kefu.nlu.explain)."""
        positions = torch.arange(ids.shape[1], device=ids.device)
        x = self.drop((self.embed(ids) if tokens is None else tokens) + self.pos(positions))
        for block in self.blocks:
            x = block(x, keep)
        return self.ln(x)
