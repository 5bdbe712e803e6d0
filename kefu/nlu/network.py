"""The trainable network: a shared encoder, optional sparse n-gram features, and task heads."""

from dataclasses import asdict, dataclass, field

import torch
from torch import nn

from kefu.nlu.encoder import EncoderConfig, TransformerEncoder
from kefu.nlu.onnx_encoder import OnnxEncoder
from kefu.nlu.slicing import resize


@dataclass
class NetworkConfig:
    encoder: EncoderConfig
    n_intents: int
    n_ngrams: int = 0  # 0 switches the sparse n-gram branch off
    # False: the n-grams' projection joins the sentence vector; True: they feed their own linear intent
    # classifier, whose probabilities are averaged with the encoder's (an ensemble: a pretrained encoder
    # learns slower than a from-scratch n-gram table, which then dominates a joint head and overfits)
    ngram_head: bool = False
    tags: list[str] = field(default_factory=list)  # BIO entity tags; empty switches the entity head off
    sentiments: list[str] = field(default_factory=list)  # sentiment labels; empty switches that head off
    pretrained: str | None = None  # e.g. "e5-small": the encoder comes from a wheel, not from scratch
    train_layers: int = 0  # with a pretrained encoder: how many top layers learn (-1: all, 0: frozen)
    # after pruning (kefu.compress): {"heads": [...], "ffn": [...]}, each encoder layer's attention heads and
    # feed-forward width; None: every layer as `encoder` (or the pretrained model) says
    pruned: dict | None = None

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> "NetworkConfig":
        return cls(
            encoder=EncoderConfig(**data["encoder"]),
            n_intents=data["n_intents"],
            n_ngrams=data["n_ngrams"],
            ngram_head=bool(data.get("ngram_head", False)),
            tags=list(data.get("tags", [])),
            sentiments=list(data.get("sentiments", [])),
            pretrained=data.get("pretrained"),
            train_layers=int(data.get("train_layers", 0)),
            pruned=data.get("pruned"),
        )


@dataclass
class Batch:
    """One padded batch of model inputs; the n-gram tensors are empty when that branch is off."""

    ids: torch.Tensor  # (b, t) token ids, 0 = padding
    keep: torch.Tensor  # (b, t) True for real tokens
    ngram_idx: torch.Tensor  # flat feature indices
    ngram_off: torch.Tensor  # (b,) start of each text's features in ngram_idx
    ngram_w: torch.Tensor  # TF-IDF weight of each index
    tokens: torch.Tensor | None = None  # (b, t, dim) embeddings to use instead of the ids' (explanations)


def mean_pool(h: torch.Tensor, keep: torch.Tensor) -> torch.Tensor:
    """Average of the real tokens' vectors: steadier than [CLS] alone when data is small."""
    k = keep.unsqueeze(-1).to(h.dtype)
    return (h * k).sum(1) / k.sum(1).clamp(min=1.0)


@dataclass
class Outputs:
    intent: torch.Tensor  # (b, n_intents) logits
    tags: torch.Tensor | None  # (b, t, n_tags) logits per token, when the entity head is on
    sentiment: torch.Tensor | None  # (b, n_sentiments) logits, when the sentiment head is on
    ngram_intent: torch.Tensor | None = None  # (b, n_intents) logits of the n-gram classifier (ngram_head)

    def intent_probs(self) -> torch.Tensor:
        """Intent probabilities: the encoder head's, averaged with the n-gram classifier's when there is one."""
        probs = torch.softmax(self.intent, dim=-1)
        if self.ngram_intent is None:
            return probs
        return (probs + torch.softmax(self.ngram_intent, dim=-1)) / 2


class IntentNetwork(nn.Module):
    """Encoder -> intent and sentiment heads on the pooled sentence (++ n-grams), and an entity-tag head on
    each token: every task shares one encoder pass."""

    def __init__(self, cfg: NetworkConfig, backbone: nn.Module | None = None):
        """`backbone` is the pretrained encoder (a `PretrainedBackbone`) when `cfg.pretrained` names one, or
        an `OnnxEncoder` standing in for either kind."""
        super().__init__()
        if backbone is None and cfg.pretrained is not None:
            raise ValueError("cfg.pretrained names an encoder but no backbone was given")
        self.cfg = cfg
        dim = cfg.encoder.dim
        self.encoder = backbone if backbone is not None else TransformerEncoder(cfg.encoder)
        if cfg.pruned is not None and not isinstance(self.encoder, OnnxEncoder):  # ONNX has its shapes
            resize(self.encoder, cfg.pruned)
        out = cfg.n_intents if cfg.ngram_head else dim
        # sparse: a batch touches a few thousand of the table's up to 100k rows; dense gradients made every
        # optimiser step walk all of them (2.5x slower epochs with an n-gram head over 77 intents)
        self.ngrams = nn.EmbeddingBag(cfg.n_ngrams, out, mode="sum", sparse=True) if cfg.n_ngrams else None
        if self.ngrams is not None:
            nn.init.normal_(self.ngrams.weight, std=0.02)
        width = 2 * dim if self.ngrams is not None and not cfg.ngram_head else dim
        self.drop = nn.Dropout(cfg.encoder.dropout)
        self.intent = nn.Linear(width, cfg.n_intents)
        nn.init.zeros_(self.intent.bias)
        self.tagger = nn.Linear(dim, len(cfg.tags)) if cfg.tags else None
        self.sentiment = nn.Linear(width, len(cfg.sentiments)) if cfg.sentiments else None

    def frozen_keys(self) -> set[str]:
        """State-dict keys of parameters that never train (the pretrained encoder's frozen part)."""
        if self.cfg.pretrained is None:
            return set()
        return {f"encoder.{k}" for k in self.encoder.frozen_keys()}

    def forward(self, batch: Batch, lower: torch.Tensor | None = None) -> Outputs:
        """Every head from one encoder pass; `lower` is the cached output of a frozen encoder bottom."""
        if lower is not None:
            h = self.encoder.upper(lower, batch.keep)
        else:
            h = self.encoder(batch.ids, batch.keep, batch.tokens)
        sentence = mean_pool(h, batch.keep)
        sparse = None
        if self.ngrams is not None:
            sparse = self.ngrams(batch.ngram_idx, batch.ngram_off, per_sample_weights=batch.ngram_w)
            if not self.cfg.ngram_head:
                sentence, sparse = torch.cat([sentence, sparse], dim=-1), None
        tags = self.tagger(self.drop(h)) if self.tagger is not None else None
        sentence = self.drop(sentence)
        sentiment = self.sentiment(sentence) if self.sentiment is not None else None
        return Outputs(intent=self.intent(sentence), tags=tags, sentiment=sentiment, ngram_intent=sparse)
