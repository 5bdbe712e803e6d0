"""The trainable network: a shared encoder, optional sparse n-gram features, and task heads."""

from dataclasses import asdict, dataclass

import torch
from torch import nn

from kefu.nlu.encoder import EncoderConfig, TransformerEncoder


@dataclass
class NetworkConfig:
    encoder: EncoderConfig
    n_intents: int
    n_ngrams: int = 0  # 0 switches the sparse n-gram branch off

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> "NetworkConfig":
        return cls(encoder=EncoderConfig(**data["encoder"]), n_intents=data["n_intents"], n_ngrams=data["n_ngrams"])


@dataclass
class Batch:
    """One padded batch of model inputs; the n-gram tensors are empty when that branch is off."""

    ids: torch.Tensor  # (b, t) token ids, 0 = padding
    keep: torch.Tensor  # (b, t) True for real tokens
    ngram_idx: torch.Tensor  # flat feature indices
    ngram_off: torch.Tensor  # (b,) start of each text's features in ngram_idx
    ngram_w: torch.Tensor  # TF-IDF weight of each index


def mean_pool(h: torch.Tensor, keep: torch.Tensor) -> torch.Tensor:
    """Average of the real tokens' vectors: steadier than [CLS] alone when data is small."""
    k = keep.unsqueeze(-1).to(h.dtype)
    return (h * k).sum(1) / k.sum(1).clamp(min=1.0)


class IntentNetwork(nn.Module):
    def __init__(self, cfg: NetworkConfig):
        super().__init__()
        self.cfg = cfg
        dim = cfg.encoder.dim
        self.encoder = TransformerEncoder(cfg.encoder)
        self.ngrams = nn.EmbeddingBag(cfg.n_ngrams, dim, mode="sum") if cfg.n_ngrams else None
        if self.ngrams is not None:
            nn.init.normal_(self.ngrams.weight, std=0.02)
        width = 2 * dim if self.ngrams is not None else dim
        self.drop = nn.Dropout(cfg.encoder.dropout)
        self.intent = nn.Linear(width, cfg.n_intents)
        nn.init.zeros_(self.intent.bias)

    def sentence_vector(self, batch: Batch) -> torch.Tensor:
        pooled = mean_pool(self.encoder(batch.ids, batch.keep), batch.keep)
        if self.ngrams is None:
            return pooled
        sparse = self.ngrams(batch.ngram_idx, batch.ngram_off, per_sample_weights=batch.ngram_w)
        return torch.cat([pooled, sparse], dim=-1)

    def forward(self, batch: Batch) -> torch.Tensor:
        """Intent logits (b, n_intents)."""
        return self.intent(self.drop(self.sentence_vector(batch)))
