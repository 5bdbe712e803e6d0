"""A pretrained BERT-family encoder as kefu's shared encoder, with its lowest layers optionally frozen.

Fine-tuning all twelve layers of e5-small on 2 CPU cores takes far too long for "minutes on a laptop",
so only the top `train_layers` layers learn. The frozen part (embeddings and lower layers) then gives
the same output for the same text in every epoch: the trainer computes it once (`lower`) and each step
runs only the top layers (`upper`) on the cached states.
"""

import torch
from torch import nn
from transformers.masking_utils import create_bidirectional_mask

from kefu.errors import ConfigError


class PretrainedBackbone(nn.Module):
    """Maps token ids (b, t) and a padding mask to contextual vectors (b, t, dim), like `TransformerEncoder`."""

    def __init__(self, bert: nn.Module, train_layers: int):
        super().__init__()
        self.bert = bert
        n = len(bert.encoder.layer)
        # train_layers < 0 means every layer (and the embeddings) learns.
        self.split = 0 if train_layers < 0 else max(0, n - train_layers)
        self.frozen_embeddings = train_layers >= 0
        for p in bert.embeddings.parameters():
            p.requires_grad_(not self.frozen_embeddings)
        for i, layer in enumerate(bert.encoder.layer):
            for p in layer.parameters():
                p.requires_grad_(i >= self.split)

    def frozen_keys(self) -> list[str]:
        """State-dict keys (relative to this module) that never change: the artifact leaves them out."""
        return [name for name, p in self.named_parameters() if not p.requires_grad]

    @property
    def caches_lower(self) -> bool:
        """True when some bottom part is frozen, so `lower` outputs can be computed once and reused."""
        return self.frozen_embeddings

    def _mask(self, h: torch.Tensor, keep: torch.Tensor) -> torch.Tensor | None:
        return create_bidirectional_mask(config=self.bert.config, inputs_embeds=h, attention_mask=keep.long())

    def embed(self, ids: torch.Tensor) -> torch.Tensor:
        """The word embeddings of `ids` (b, t, dim), before positions are added: what `tokens` stands in for."""
        return self.bert.embeddings.word_embeddings(ids)

    def lower(self, ids: torch.Tensor, keep: torch.Tensor, tokens: torch.Tensor | None = None) -> torch.Tensor:
        """The output of the frozen part (embeddings + the layers below `split`); `tokens` replaces the word
        embeddings of `ids`, and gradients then flow through the frozen part to them (for explanations)."""
        grad = torch.is_grad_enabled() and (tokens is not None or not self.frozen_embeddings)
        with torch.set_grad_enabled(grad):
            h = self.bert.embeddings(input_ids=ids) if tokens is None else self.bert.embeddings(inputs_embeds=tokens)
            mask = self._mask(h, keep)
            for layer in self.bert.encoder.layer[: self.split]:
                h = _hidden(layer(h, attention_mask=mask))
        return h

    def upper(self, h: torch.Tensor, keep: torch.Tensor) -> torch.Tensor:
        """The trainable top layers on top of `lower`'s output."""
        mask = self._mask(h, keep)
        for layer in self.bert.encoder.layer[self.split :]:
            h = _hidden(layer(h, attention_mask=mask))
        return h

    def forward(self, ids: torch.Tensor, keep: torch.Tensor, tokens: torch.Tensor | None = None) -> torch.Tensor:
        return self.upper(self.lower(ids, keep, tokens), keep)


def keep_bottom_layers(bert: nn.Module, n: int) -> None:
    """Cut ``bert`` (in place) to its embeddings and bottom ``n`` layers: a shallower, faster encoder whose
    layers are still pretrained (the lower layers of a BERT carry most of what a classifier needs)."""
    if not 1 <= n <= len(bert.encoder.layer):
        raise ConfigError(f"encoder_layers: {n} is not between 1 and the encoder's {len(bert.encoder.layer)} layers")
    bert.encoder.layer = bert.encoder.layer[:n]
    bert.config.num_hidden_layers = n


def _hidden(out) -> torch.Tensor:
    """BERT layers return a tensor in recent transformers and a tuple in older ones."""
    return out[0] if isinstance(out, tuple) else out
