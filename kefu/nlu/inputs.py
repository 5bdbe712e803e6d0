"""Turns texts into padded model inputs: one place, so training and prediction cannot drift apart."""

from dataclasses import dataclass

import torch
from tokenizers import Tokenizer

from kefu.nlu.network import Batch
from kefu.text.ngrams import NgramFeaturizer

_EMPTY = torch.zeros(0, dtype=torch.long)


@dataclass
class InputEncoder:
    tokenizer: Tokenizer
    ngrams: NgramFeaturizer | None
    max_len: int

    def token_ids(self, texts: list[str]) -> list[list[int]]:
        return [enc.ids[: self.max_len] for enc in self.tokenizer.encode_batch(texts)]

    def token_offsets(self, texts: list[str]) -> list[list[tuple[int, int]]]:
        """Character span of each token in its text; special tokens get (0, 0)."""
        return [enc.offsets[: self.max_len] for enc in self.tokenizer.encode_batch(texts)]

    def batch(self, texts: list[str], ids: list[list[int]] | None = None) -> Batch:
        ids = self.token_ids(texts) if ids is None else ids
        width = max(len(s) for s in ids)
        padded = torch.zeros(len(ids), width, dtype=torch.long)
        for row, seq in enumerate(ids):
            padded[row, : len(seq)] = torch.tensor(seq, dtype=torch.long)
        if self.ngrams is None:
            idx, off, w = _EMPTY, _EMPTY, torch.zeros(0)
        else:
            idx, off, w = self.ngrams.batch(texts)
        return Batch(ids=padded, keep=padded != 0, ngram_idx=idx, ngram_off=off, ngram_w=w)
